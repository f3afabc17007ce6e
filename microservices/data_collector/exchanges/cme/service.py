"""The CME settlement poller and importer: rows -> `exchange.raw` records and `alerts` rolls.

`SettlementFeed.read_day` is the one step both use: read a trade date's rows from a source,
count a day without settlement (`holiday`) and rejected rows, fetch the groups' reference
prices at settlement time, and turn the rows into records and CONTRACT_ROLL alerts
(`settlements.SettlementBook`). `poll_dates` picks the trade dates a poll asks for. `run`
polls every CME_POLL_INTERVAL_S; `cme import FILE` (`cli.py`) reads every date of a file.
Faults never stop the loop: a failed read counts `outcome="failed"` and is retried on the
next poll; bad rows count `ce_cme_rows_rejected_total{reason}` with a logged sample.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from microservices.common import metrics
from microservices.common.errors import BadMessage, TransientError
from microservices.common.market_alerts import MarketAlert
from microservices.common.records import Settlement
from microservices.data_collector.exchanges.cme.contracts import settlement_ms
from microservices.data_collector.exchanges.cme.reference import ReferencePrices
from microservices.data_collector.exchanges.cme.rows import RowChecker, RowStats
from microservices.data_collector.exchanges.cme.settlements import CmeRules, SettlementBook
from microservices.data_collector.exchanges.cme.source import SettlementSource

logger = logging.getLogger(__name__)
Publish = Callable[[list[Settlement], list[MarketAlert]], Awaitable[None]]


def poll_dates(today: date, lookback_days: int, after: date | None) -> list[date]:
    """Weekdays among the `lookback_days` days before `today` (CME publishes a trade date's
    settlement after it ends), later than `after`, oldest first."""
    days = (today - timedelta(days=n) for n in range(lookback_days, 0, -1))
    return [d for d in days if d.weekday() < 5 and (after is None or d > after)]


@dataclass(slots=True)
class DayOutcome:
    trade_date: date
    outcome: str  # ok, holiday, failed
    records: int = 0
    rolls: int = 0


class SettlementFeed:
    """Source + rules + reference: trade dates in, records and alerts published."""

    def __init__(
        self, source: SettlementSource, rules: CmeRules, reference: ReferencePrices | None,
        publish: Publish,
    ) -> None:  # fmt: skip
        self.source = source
        self.book = SettlementBook(rules)
        self.stats = RowStats()
        self.checker = RowChecker(self.stats, rules.last_trade)
        self.reference = reference
        self.publish = publish
        self._counted: dict[str, int] = {}
        self.days: dict[str, int] = {}  # outcome -> trade dates read so far
        self.records = 0

    def health(self, polled_ms: int) -> dict[str, Any]:
        """The `/health` entry of the venue: last poll, last trade date read, counters and
        each product's front month."""
        last = self.book.last_date
        fronts = {product: c.name for product, c in sorted(self.book.tracker.fronts.items())}
        return {
            "state": "polled", "source": self.source.name, "delayed": True,
            "last_poll_ms": polled_ms, "last_trade_date": last and last.isoformat(),
            "days": dict(self.days), "records": self.records,
            "rejected": dict(self.stats.rejected), "fronts": fronts,
        }  # fmt: skip

    def _day(self, trade_date: date, outcome: str, records: int = 0, rolls: int = 0) -> DayOutcome:
        metrics.CME_DAYS.labels(self.source.name, outcome).inc()
        self.days[outcome] = self.days.get(outcome, 0) + 1
        self.records += records
        return DayOutcome(trade_date, outcome, records, rolls)

    async def read_day(self, trade_date: date, recv_ms: int) -> DayOutcome:
        try:
            rows = await self.source.rows(trade_date, self.checker)
        except (TransientError, BadMessage) as exc:
            logger.warning("cme.read_failed", extra={"trade_date": trade_date.isoformat(),
                           "error": str(exc)[:200]})  # fmt: skip
            return self._day(trade_date, "failed")
        finally:
            self._count_rejections()
        if not rows:
            self.stats.reject("holiday", trade_date.isoformat())
            logger.info("cme.no_settlement", extra={"trade_date": trade_date.isoformat()})
            return self._day(trade_date, "holiday")
        references = await self._references(self.book.groups(rows), settlement_ms(trade_date))
        result = self.book.day(rows, recv_ms, references)
        await self.publish(result.records, result.alerts)
        for alert in result.alerts:
            metrics.CME_ROLLS.labels(str(alert.data["product"])).inc()
            logger.info("cme.roll", extra={"reason": alert.reason})
        return self._day(trade_date, "ok", len(result.records), len(result.alerts))

    async def _references(self, groups: list[str], ts_ms: int) -> dict[str, float]:
        if self.reference is None:
            return {}
        out: dict[str, float] = {}
        for group in groups:
            price = await self.reference.price_at(group, ts_ms)
            if price is not None:
                out[group] = price
        return out

    def _count_rejections(self) -> None:
        """Metrics and one log line per reason for rejections new since the last call."""
        for reason, count in self.stats.rejected.items():
            new = count - self._counted.get(reason, 0)
            if new <= 0 or reason == "holiday":
                continue
            self._counted[reason] = count
            metrics.CME_ROWS_REJECTED.labels(reason).inc(new)
            logger.warning("cme.rows_rejected", extra={"reason": reason, "count": new,
                           "sample": self.stats.samples.get(reason, "")})  # fmt: skip
