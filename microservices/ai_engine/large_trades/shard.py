"""One owned shard of exchange.raw for the large-trade watcher: its own `MarketWatch` and the
id of the last entry it folded.

Each owned shard has a watch of its own, created when the shard is taken and dropped when it
is lost, so a shard's per-symbol state (liquidation clusters, funding and open-interest
history, cooldowns, remembered row ids, the USD prices that value its trades) depends only on
that shard's entries: the state a new owner rebuilds from the shard (`rebuild.py`) is the
state the old owner held. The stablecoin pairs reach every shard (`sharding.is_context`), so
every shard's watch can value USD-class quotes; a quote valued through another group (ETHBTC
through BTCUSDT) is valued only where that group lives in the same shard, else counted as
unpriced.

Entries at or below the watermark are skipped (a re-delivered batch, a claim after failover),
and so are the outputs of a context record outside its home shard (a large USDC trade is
reported by the owner of USDCUSDT's shard only). Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any

from microservices.ai_engine.large_trades.params import AlertParams
from microservices.ai_engine.large_trades.watch import MarketWatch
from microservices.common.large_trade_schema import LargeTrade
from microservices.common.market_alerts import MarketAlert
from microservices.common.records import RawRecord
from microservices.common.shard_read import id_order
from microservices.common.shard_rebuild import ORIGIN, EntryId, fresh_entries
from microservices.common.sharding import shard_of

Outputs = tuple[list[LargeTrade], list[MarketAlert]]


def alert_group(alert: MarketAlert) -> str:
    """The followed group an alert of this role is about (its shard key)."""
    group: Any = alert.data.get("group")
    return str(group) if group else alert.symbol


class WatchShard:
    def __init__(self, index: int, shards: int, params: AlertParams) -> None:
        self.index = index
        self.shards = shards
        self.watch = MarketWatch(params)
        self.applied: EntryId = ORIGIN  # the last entry folded
        self.skipped = 0  # entries delivered again, skipped

    def home(self, group: str) -> bool:
        return shard_of(group, self.shards) == self.index

    def fold(self, batch: list[tuple[str, RawRecord]]) -> Outputs:
        """Fold the entries newer than the watermark; the large trades and alerts they raise
        that belong to this shard, in entry order."""
        fresh = fresh_entries(batch, self.applied)
        self.skipped += len(batch) - len(fresh)
        update = self.watch.update
        for _, record in fresh:
            update(record)
        if fresh:
            self.applied = id_order(fresh[-1][0])
        trades, alerts = self.watch.take()
        if self.shards > 1:
            trades = [t for t in trades if self.home(t.group)]
            alerts = [a for a in alerts if self.home(alert_group(a))]
        return trades, alerts
