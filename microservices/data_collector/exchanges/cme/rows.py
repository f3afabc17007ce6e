"""Settlement rows as every CME source yields them, and the checks they pass. Pure.

A source turns its input (a CSV, a settlement file, a product page's JSON) into
`SettlementRow`s through `RowChecker`, which drops and counts what cannot be used:
`malformed` (missing or bad fields), `unknown_contract` (not a contract month of BTC, MBT, ETH
or MET), `expired` (a row of a contract whose trading ended before its trade date),
`other_product` (a settlement file's other products, counted but never sampled), and
`holiday` (a trade date asked for that has no settlement at all).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from microservices.common.errors import BadMessage
from microservices.data_collector.exchanges.cme.contracts import ContractMonth

SAMPLE_CHARS: Final = 200
REASONS: Final = ("malformed", "unknown_contract", "expired", "other_product", "holiday")
QUIET: Final = frozenset({"other_product"})


@dataclass(frozen=True, slots=True)
class SettlementRow:
    trade_date: date
    contract: ContractMonth
    settlement: float  # USD per base unit
    volume: float  # contracts
    open_interest: float  # contracts


@dataclass(slots=True)
class RowStats:
    """Rows accepted and rejected per reason, with one recent sample per reason."""

    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    samples: dict[str, str] = field(default_factory=dict)

    def reject(self, reason: str, sample: Any) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        if reason not in QUIET:
            self.samples[reason] = repr(sample)[:SAMPLE_CHARS]


def number(value: Any, *, positive: bool) -> float:
    """A CME number: int, float or text with thousands separators (`97,125.5`); `-` or ''
    is missing. BadMessage unless finite and > 0 (`positive`) or >= 0."""
    if value is True or value is False or value is None:
        raise BadMessage(f"bad number {value!r}")
    text = value.replace(",", "").strip() if isinstance(value, str) else value
    if text in ("", "-"):
        raise BadMessage("missing number")
    out = float(text)
    if not math.isfinite(out) or out < 0.0 or (positive and out == 0.0):
        raise BadMessage(f"bad number {value!r}")
    return out


def iso_date(text: Any) -> date:
    """`2026-12-04`, `20261204` or `12/04/2026` (CME's pages) -> date; BadMessage if not."""
    raw = str(text).strip()
    try:
        if len(raw) == 8 and raw.isdigit():
            return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
        if raw.count("/") == 2:
            month, day, year = (int(part) for part in raw.split("/"))
            return date(year, month, day)
        return date.fromisoformat(raw)
    except ValueError:
        raise BadMessage(f"not a date: {raw[:20]!r}") from None


class RowChecker:
    """Builds checked rows; `expiry_date(contract)` is its last trade date."""

    def __init__(self, stats: RowStats, expiry_date: Callable[[ContractMonth], date]) -> None:
        self.stats = stats
        self._expiry_date = expiry_date

    def row(
        self, trade_date: date, contract: Callable[[], ContractMonth], values: tuple[Any, ...],
        sample: Any,
    ) -> SettlementRow | None:  # fmt: skip
        """A row of `values` = (settlement, volume, open interest), or None (counted)."""
        try:
            month = contract()
        except BadMessage:
            self.stats.reject("unknown_contract", sample)
            return None
        if self._expiry_date(month) < trade_date:
            self.stats.reject("expired", sample)
            return None
        try:
            settle, volume, oi = values
            price = number(settle, positive=True)
            contracts = number(volume, positive=False)
            row = SettlementRow(trade_date, month, price, contracts, number(oi, positive=False))
        except (BadMessage, ValueError, TypeError):
            self.stats.reject("malformed", sample)
            return None
        self.stats.accepted += 1
        return row
