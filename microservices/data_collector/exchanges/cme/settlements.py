"""A trade date's settlement rows -> `settlement` records and CONTRACT_ROLL alerts. Pure.

`SettlementBook` keeps each product's front month across trade dates (`roll.RollTracker`):
feed it trade dates in order. Every record carries `delayed=True`, its contract's expiry,
whether it is its product's front month that day, and the group's cross-venue reference
price at settlement time when the caller had one (the aggregator computes the basis into
`exchange.normalized`: `common/futures_basis.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from microservices.common.market_alerts import MarketAlert
from microservices.common.records import Settlement
from microservices.data_collector.exchanges.cme.contracts import (
    DAY_MS,
    PRODUCTS,
    ContractMonth,
    settlement_ms,
)
from microservices.data_collector.exchanges.cme.roll import RollTracker, roll_alert
from microservices.data_collector.exchanges.cme.rows import SettlementRow

VENUE: Final = "cme"
DEFAULT_GROUPS: Final = {"BTC": "BTCUSDT", "ETH": "ETHUSDT"}


@dataclass(frozen=True, slots=True)
class CmeRules:
    """What turns rows into records: base asset -> followed group, extra closed days (beyond
    `contracts.closed_days`), and the roll window in calendar days before the last trade."""

    groups: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_GROUPS))
    holidays: frozenset[date] = frozenset()
    roll_days: int = 5

    def last_trade(self, contract: ContractMonth) -> date:
        return contract.last_trade_date(self.holidays)

    def expiry_ms(self, contract: ContractMonth) -> int:
        return contract.expiry_ms(self.holidays)

    def group(self, product: str) -> str:
        base = PRODUCTS[product].base
        return self.groups.get(base, f"{base}USDT")


@dataclass(slots=True)
class DayResult:
    records: list[Settlement]
    alerts: list[MarketAlert]
    fronts: dict[str, SettlementRow]  # product -> its front month's row


class SettlementBook:
    def __init__(self, rules: CmeRules) -> None:
        self.rules = rules
        self.tracker = RollTracker(rules.roll_days, rules.last_trade)
        self.last_date: date | None = None

    def groups(self, rows: Sequence[SettlementRow]) -> list[str]:
        """The groups whose reference price the rows' records want."""
        return sorted({self.rules.group(r.contract.product) for r in rows})

    def day(
        self, rows: Sequence[SettlementRow], recv_ms: int, references: Mapping[str, float]
    ) -> DayResult:
        """Records and roll alerts of one trade date's rows (all of one trade date)."""
        out = DayResult([], [], {})
        by_product: dict[str, list[SettlementRow]] = {}
        for row in rows:
            by_product.setdefault(row.contract.product, []).append(row)
        for product in sorted(by_product):
            front, roll = self.tracker.update(product, by_product[product])
            if front is None:
                continue
            out.fronts[product] = front
            settle_ms = settlement_ms(front.trade_date)
            if roll is not None:
                days = (self.rules.expiry_ms(roll.old_contract) - settle_ms) / DAY_MS
                out.alerts.append(roll_alert(roll, self.rules.group(product), settle_ms, days))
            for row in sorted(by_product[product], key=lambda r: r.contract):
                group = self.rules.group(product)
                out.records.append(self.record(row, row is front, recv_ms, references.get(group)))
        if rows:
            self.last_date = rows[0].trade_date
        return out

    def record(
        self, row: SettlementRow, front: bool, recv_ms: int, reference: float | None
    ) -> Settlement:
        contract = row.contract
        return Settlement(
            exchange=VENUE, market="future", symbol=contract.name, venue_symbol=contract.code,
            group=self.rules.group(contract.product), quote="USD",
            ts_ms=settlement_ms(row.trade_date), recv_ms=recv_ms, product=contract.product,
            trade_date=row.trade_date.isoformat(), settlement=row.settlement,
            volume=row.volume, open_interest=row.open_interest,
            contract_size=contract.spec.contract_size,
            expiry_ms=self.rules.expiry_ms(contract), delayed=True, front=front,
            reference_price=reference,
        )  # fmt: skip
