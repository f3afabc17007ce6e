"""One fold over exchange.raw records: large trades and every market alert they raise.

`MarketWatch.update(record)` routes a record to the detector and the rules; `take()` hands
over what accumulated (large trades, then alerts, in record order); `snapshot()` is the
per-symbol state as plain data (what a rebuilt shard must hold again). Every decision uses
the records' event times, never the clock, so the same records in the same order give the
same outputs and the same state. Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any

from microservices.ai_engine.large_trades.detector import LargeTradeDetector, large_trade_alert
from microservices.ai_engine.large_trades.params import AlertParams
from microservices.ai_engine.large_trades.rules import (
    Cooldown,
    FundingSpikes,
    LiquidationClusters,
    OiChanges,
)
from microservices.common.large_trade_schema import LargeTrade
from microservices.common.market_alerts import MarketAlert
from microservices.common.records import Funding, Liquidation, OpenInterest, RawRecord, Trade


class MarketWatch:
    def __init__(self, params: AlertParams) -> None:
        cooldown = Cooldown(params.cooldown_ms)
        self.detector = LargeTradeDetector(params)
        self.clusters = LiquidationClusters(params, cooldown)
        self.funding = FundingSpikes(params, cooldown)
        self.open_interest = OiChanges(params, cooldown)
        self.trades: list[LargeTrade] = []
        self.alerts: list[MarketAlert] = []

    def update(self, rec: RawRecord) -> None:
        self.detector.observe_price(rec)
        if isinstance(rec, Trade | Liquidation):
            self._trade(rec)
        elif isinstance(rec, Funding):
            self._add(self.funding.update(rec))
        elif isinstance(rec, OpenInterest):
            self._add(self.open_interest.update(rec))

    def _trade(self, rec: Trade | Liquidation) -> None:
        valued = self.detector.valued(rec)
        if valued is None:
            return
        if valued.value_usd >= valued.threshold_usd and self.detector.is_new(valued):
            self.trades.append(valued)
            self.alerts.append(large_trade_alert(valued))
        if valued.is_liquidation:  # every liquidation counts towards a cluster, large or not
            self._add(self.clusters.update(valued))

    def take(self) -> tuple[list[LargeTrade], list[MarketAlert]]:
        trades, alerts = self.trades, self.alerts
        self.trades, self.alerts = [], []
        return trades, alerts

    def snapshot(self) -> dict[str, Any]:
        """The state as plain data: USD prices, remembered row ids, liquidations in each
        cluster window, funding and open-interest history, and the alert cooldowns."""
        return {
            "prices": dict(sorted(self.detector.rates.prices.items())),
            "seen": self.detector.seen(),
            "clusters": {g: [t.row_id for t in w] for g, w in sorted(self.clusters.recent.items())},
            "funding": dict(sorted(self.funding.previous.items())),
            "open_interest": {k: list(v) for k, v in sorted(self.open_interest.history.items())},
            "cooldowns": dict(sorted(self.funding.cooldown.last.items())),
        }

    def _add(self, alert: MarketAlert | None) -> None:
        if alert is not None:
            self.alerts.append(alert)
