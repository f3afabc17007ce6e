"""Front-month choice and roll detection per product, and the CONTRACT_ROLL alert. Pure.

Rule, applied per product to each trade date's settlement rows (contracts in expiry order):
- a contract within `roll_days` calendar days of its last trade date (or past it) cannot be
  front: the front moves to the next contract ("expiry");
- the front moves to the next contract when that contract's open interest is greater than
  the front's ("open_interest");
- the front never moves back to an earlier contract; the first day seen picks the nearest
  eligible contract, then applies the open-interest rule once (no alert: nothing rolled).
A change of front between two trade dates is a `Roll`, raised as CONTRACT_ROLL on `alerts`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from microservices.common.market_alerts import MarketAlert
from microservices.data_collector.exchanges.cme.contracts import ContractMonth
from microservices.data_collector.exchanges.cme.rows import SettlementRow

RollReason = Literal["open_interest", "expiry"]


@dataclass(frozen=True, slots=True)
class Roll:
    product: str
    trade_date: date
    old: SettlementRow | None  # None when the old front has no row that day (it expired)
    old_contract: ContractMonth
    new: SettlementRow
    reason: RollReason


def choose_front(
    rows: Sequence[SettlementRow],
    current: ContractMonth | None,
    roll_days: int,
    last_trade: Callable[[ContractMonth], date],
) -> tuple[SettlementRow | None, RollReason | None]:
    """The front row among one product's rows of one trade date, and why it differs from
    `current` (None: it does not, or there was no current)."""
    ordered = sorted(rows, key=lambda r: r.contract)
    if not ordered:
        return None, None
    day = ordered[0].trade_date
    eligible = [r for r in ordered if (last_trade(r.contract) - day).days > roll_days]
    if current is not None:
        eligible = [r for r in eligible if r.contract >= current]
    if not eligible:  # every listed contract is within the roll window: the farthest one
        eligible = ordered[-1:]
    front: SettlementRow = eligible[0]
    reason: RollReason | None = None
    if current is not None and front.contract != current:
        reason = "expiry"
    if len(eligible) > 1 and eligible[1].open_interest > front.open_interest:
        front, reason = eligible[1], "open_interest"
    if current is None or front.contract == current:
        reason = None
    return front, reason


class RollTracker:
    """The front month of each product across trade dates (feed dates in order)."""

    def __init__(self, roll_days: int, last_trade: Callable[[ContractMonth], date]) -> None:
        self.roll_days = roll_days
        self._last_trade = last_trade
        self.fronts: dict[str, ContractMonth] = {}

    def update(
        self, product: str, rows: Sequence[SettlementRow]
    ) -> tuple[SettlementRow | None, Roll | None]:
        """The product's front row on the rows' trade date, and the roll it made, if any."""
        current = self.fronts.get(product)
        front, reason = choose_front(rows, current, self.roll_days, self._last_trade)
        if front is None:
            return None, None
        self.fronts[product] = front.contract
        if reason is None or current is None:
            return front, None
        old = next((r for r in rows if r.contract == current), None)
        return front, Roll(product, front.trade_date, old, current, front, reason)


def roll_alert(roll: Roll, group: str, ts_ms: int, days_to_expiry: float) -> MarketAlert:
    """CONTRACT_ROLL for the `alerts` stream; `days_to_expiry` is the old front's."""
    old_oi = None if roll.old is None else roll.old.open_interest
    why = "open interest passed it" if roll.reason == "open_interest" else "expiry near"
    return MarketAlert(
        ts_ms=ts_ms,
        source="cme",
        type="CONTRACT_ROLL",
        severity="info",
        symbol=group,
        venue="cme",
        reason=f"{roll.product} front month {roll.old_contract.name} -> "
        f"{roll.new.contract.name} ({why})",
        data={
            "product": roll.product,
            "trade_date": roll.trade_date.isoformat(),
            "from": roll.old_contract.name,
            "to": roll.new.contract.name,
            "reason": roll.reason,
            "from_open_interest": old_oi,
            "to_open_interest": roll.new.open_interest,
            "from_days_to_expiry": round(days_to_expiry, 4),
        },
    )
