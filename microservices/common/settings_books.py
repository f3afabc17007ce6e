"""Settings of the L2 order books (issue 13), declared like `settings_fields` (a `# ---` group
line, then fields); `SettingsFields` inherits them, so they are ordinary settings."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, NoDecode

VenueBps = Annotated[dict[str, float], NoDecode]  # "binance:10,bybit:5.5"


class BookSettingsFields(BaseSettings):
    """The order-book declarations (validated in `Settings`)."""

    # --- order books
    orderbook_enabled: bool = Field(
        True, description="keep an L2 book of every followed symbol on every venue"
    )
    orderbook_levels: int = Field(
        20, gt=0, le=1000, description="levels per side in each exchange.orderbook entry"
    )
    orderbook_interval_ms: int = Field(
        250, gt=0, description="at most one exchange.orderbook entry per book this often"
    )
    orderbook_full_interval_ms: int = Field(
        1_000,
        gt=0,
        description="the full books the order-book API serves are refreshed this often",
    )
    orderbook_max_depth: int = Field(
        0,
        ge=0,
        description="levels kept per side; 0 = the venue's snapshot depth (Binance 1000, "
        "Bybit 50, Coinbase 1000 of its whole-book snapshot)",
    )
    orderbook_idle_s: float = Field(
        300.0, gt=0, description="a book with no update for this long is dropped"
    )
    taker_fees_bps: VenueBps = Field(
        {},
        description="taker fee per venue in bps, e.g. binance:10,bybit:5.5 (others 0); "
        "execution costs report it beside the cost",
    )
    maxlen_orderbook: int = Field(10_000, gt=0, description="MAXLEN ~ of exchange.orderbook")
