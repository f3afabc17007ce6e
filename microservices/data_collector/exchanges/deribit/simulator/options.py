"""The simulator's Deribit option chains and DVOL: `get_book_summary_by_currency?kind=option`
rows and `deribit_volatility_index` values, generated from the simulated market.

A chain (BTC or ETH, when the market simulates BTCUSDT or ETHUSDT) has the next three
Friday expiries at 08:00 UTC after `now`, and strikes at -20, -10, 0, +10 and +20 % of the
index (rounded to the strike step), a call and a put each: 30 rows. Open interest and volume
are deterministic per instrument name (`unit`); one call strike of the last expiry has no
volume. DVOL is the market's annual volatility in percent, swinging +-10 % over an hour.
Pure: `now_ms` and prices are parameters.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from microservices.exchange_simulator.events import unit

STRIKE_STEPS: Final = (-0.2, -0.1, 0.0, 0.1, 0.2)
EXPIRIES: Final = 3
EXPIRY_HOUR_UTC: Final = 8
FRIDAY: Final = 4
DVOL_PERIOD_MS: Final = 3_600_000


def expiries(now_ms: int, count: int = EXPIRIES) -> list[datetime]:
    """The next `count` Fridays at 08:00 UTC strictly after `now_ms`."""
    now = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    day = now.replace(hour=EXPIRY_HOUR_UTC, minute=0, second=0, microsecond=0)
    day += timedelta(days=(FRIDAY - day.weekday()) % 7)
    if day <= now:
        day += timedelta(days=7)
    return [day + timedelta(days=7 * i) for i in range(count)]


def strike_step(index: float) -> float:
    """Strikes are multiples of a round step: 1,000 for 65,000, 100 for 3,500."""
    return float(10 ** max(int(math.log10(index)) - 1, 0))


def option_name(currency: str, expiry: datetime, strike: float, side: str) -> str:
    """`BTC-27DEC24-65000-C`: Deribit's spelling (day without a leading zero)."""
    return f"{currency}-{expiry.day}{expiry.strftime('%b%y').upper()}-{int(strike)}-{side}"


def summary_row(name: str, index: float, oi: float, volume: float, now_ms: int) -> dict[str, Any]:
    return {"instrument_name": name, "base_currency": name.split("-")[0],
            "quote_currency": name.split("-")[0], "open_interest": oi, "volume": volume,
            "volume_usd": round(volume * index * 0.02, 2), "estimated_delivery_price": index,
            "underlying_index": "index_price", "underlying_price": index,
            "interest_rate": 0.0, "mark_price": 0.02, "mid_price": 0.02, "bid_price": 0.0195,
            "ask_price": 0.0205, "last": 0.02, "high": 0.021, "low": 0.019,
            "price_change": 0.0, "mark_iv": 55.0, "creation_timestamp": now_ms}  # fmt: skip


def option_chain(currency: str, index: float, now_ms: int) -> list[dict[str, Any]]:
    """The chain's rows (module docstring)."""
    step = strike_step(index)
    rows: list[dict[str, Any]] = []
    dates = expiries(now_ms)
    for expiry in dates:
        for offset in STRIKE_STEPS:
            strike = round(index * (1 + offset) / step) * step
            for side in ("C", "P"):
                name = option_name(currency, expiry, strike, side)
                oi = round(50 + 950 * unit(name), 1)
                quiet = expiry == dates[-1] and offset == STRIKE_STEPS[-1] and side == "C"
                volume = 0.0 if quiet else round(1 + 99 * unit(name + "v"), 1)
                rows.append(summary_row(name, index, oi, volume, now_ms))
    return rows


def dvol(volatility: float, now_ms: int) -> float:
    """DVOL in percent: the annual volatility (0.6 -> 60.0) +-10 % over DVOL_PERIOD_MS."""
    swing = 1 + 0.1 * math.sin(2 * math.pi * (now_ms % DVOL_PERIOD_MS) / DVOL_PERIOD_MS)
    return round(100 * volatility * swing, 2)
