"""Large-trade watcher I/O shell: exchange.raw (its own consumer group `large_trades`) ->
one MarketWatch per owned shard -> exchange.large_trades and `alerts`, and RabbitMQ when
RABBITMQ_URL is set.

Its own group (not the aggregator's) so that its pace, failures and lag never hold up the
aggregator, and it can be switched off (LARGE_TRADES_ENABLED) without touching prices. A batch
is acknowledged only after its large trades and alerts were written to Redis (the producer's
flush); a failed flush leaves the batch pending, and its redelivery publishes nothing twice
(each shard skips entries at or below the last one it folded; the producer keeps what it
could not write). RabbitMQ gets the same large trades (routing key `large_trades`) and alerts
(`alerts.<type>`) through the publisher's bounded buffer, confirmed by the broker.

The watcher keeps per-symbol state (liquidation clusters, funding and open-interest rules,
the prices that value trades in USD), so it owns shards (role `large_trades`,
`common/shard_roles.py`) rather than sharing them: one `WatchShard` (its own watch) and one
consumer per owned shard of exchange.raw; large trades go to their group's shard (fenced when
leased), alerts to `alerts` (unsharded: a leased owner checks its lease before writing them).
Taking a shard, at start or from a dead owner, rebuilds its watch from the shard's entries
and publishes only the outputs not yet written (`rebuild.py`), so after a failover every
large trade and alert is written once and the state equals that of one watcher fed every
entry once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import asdict
from functools import partial
from typing import Any, Final

import orjson
import redis.asyncio as aredis

from microservices.ai_engine.large_trades.params import AlertParams
from microservices.ai_engine.large_trades.rebuild import (
    Rebuilt,
    alert_id,
    rebuild_shard,
    seed_since,
    written_outputs,
)
from microservices.ai_engine.large_trades.shard import WatchShard
from microservices.ai_engine.large_trades.watch import MarketWatch
from microservices.common import market_metrics
from microservices.common.clock import iso_utc
from microservices.common.consumer import StreamConsumer
from microservices.common.large_trade_schema import LargeTrade
from microservices.common.market_alerts import MarketAlert, encode_market_alert
from microservices.common.producer import StreamProducer
from microservices.common.rabbitmq import RabbitPublisher
from microservices.common.records import RawRecord
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS
from microservices.common.settings import Settings
from microservices.common.shard_lease import Fenced
from microservices.common.shard_publisher import ShardPublisher
from microservices.common.shard_read import as_text
from microservices.common.shard_rebuild import acknowledged_upto, rebuild_until_done
from microservices.common.shard_roles import Loop, ShardRole

logger = logging.getLogger(__name__)
GROUP = "large_trades"
ROLE: Final = "large_trades"


def trade_message(trade: LargeTrade) -> dict[str, Any]:
    """A large trade as seed 002's API and RabbitMQ consumers see it (`trade.to_dict()`)."""
    return {
        "id": trade.row_id, "exchange": trade.exchange, "symbol": trade.symbol,
        "canonical_symbol": trade.canonical_symbol, "side": trade.side, "price": trade.price,
        "size": trade.size, "value_usd": round(trade.value_usd, 2),
        "timestamp": iso_utc(trade.ts_ms), "trade_id": trade.trade_id,
        "is_liquidation": trade.is_liquidation,
        "metadata": {"market": trade.market, "group": trade.group, "quote": trade.quote,
                     "quote_usd": trade.quote_usd, "threshold_usd": trade.threshold_usd},
    }  # fmt: skip


def alert_message(alert: MarketAlert) -> dict[str, Any]:
    """An `alerts` entry as JSON, with `data` as an object."""
    return encode_market_alert(alert) | {"data": alert.data}


class LargeTradeService:
    def __init__(
        self,
        settings: Settings,
        redis: aredis.Redis,
        producer: StreamProducer | None = None,
        rabbit: RabbitPublisher | None = None,
        consumer_name: str = "large-trades-1",
    ) -> None:
        self.settings, self.redis = settings, redis
        self.streams = settings.streams()
        self.params = AlertParams.from_settings(settings)
        # its own producer, flushed by the handler only: a batch is acknowledged after its
        # writes, never while another task's flush still holds them
        self.producer = producer or StreamProducer(redis, batch_size=settings.producer_batch_size)
        self.role = ShardRole(ROLE, settings, redis, owner=consumer_name, on_lost=self._forget)
        self.publisher = ShardPublisher(self.role, self.producer)
        self.rabbit = rabbit
        self.published = {"large_trades": 0, "alerts": 0}
        self.rebuilt: dict[int, Rebuilt] = {}
        self._turn = asyncio.Lock()
        self.units: dict[int, WatchShard] = {}
        self.consumers: dict[int, StreamConsumer[RawRecord]] = {}
        for shard in self.role.owned:  # static ownership: known now
            self._take_unit(shard, 0)

    @property
    def consumer(self) -> StreamConsumer[RawRecord]:
        """The first owned shard's consumer (the only one with one shard)."""
        return self.consumers[min(self.consumers)]

    @property
    def watch(self) -> MarketWatch:
        """The first owned shard's watch (the only one with one shard)."""
        return self.units[min(self.units)].watch

    def _take_unit(self, shard: int, token: int) -> WatchShard:
        """The shard's unit and consumer: kept under static ownership, new when leased."""
        unit = self.units.get(shard) if token == 0 else None
        if unit is None:
            unit = self.units[shard] = WatchShard(shard, self.streams.raw.shards, self.params)
            s = self.settings
            self.consumers[shard] = StreamConsumer(
                self.redis, self.streams.raw.shard(shard), partial(self._handle, shard),
                group=GROUP, consumer=self.role.owner, batch_size=s.consumer_batch_size,
                block_ms=s.consumer_block_ms, claim_idle_ms=s.consumer_claim_idle_ms,
                max_deliveries=s.consumer_max_deliveries,
            )  # fmt: skip
        if token:  # acknowledgements fenced by the lease's token too
            self.consumers[shard].fence = (self.role.lease_key(shard), token)
        return unit

    def _forget(self, shard: int) -> None:
        self.units.pop(shard, None)
        self.consumers.pop(shard, None)

    async def handle(self, batch: list[tuple[str, RawRecord]]) -> None:
        """A batch of the first owned shard (the only one with one shard)."""
        await self._handle(min(self.units), batch)

    async def _handle(self, shard: int, batch: list[tuple[str, RawRecord]]) -> None:
        unit = self.units.get(shard)
        if unit is None:
            raise Fenced(f"shard {shard} of {ROLE} is not owned here")  # left pending
        await self._emit(shard, *unit.fold(batch))

    async def _emit(self, shard: int, trades: list[LargeTrade], alerts: list[MarketAlert]) -> None:
        """Write one shard's outputs; the shards take turns (one flush at a time, so a batch
        is acknowledged only after its own writes)."""
        async with self._turn:
            for trade in trades:
                self.publisher.publish(self.streams.large_trades, trade)
                self.published["large_trades"] += 1
                kind = "liquidation" if trade.is_liquidation else "trade"
                market_metrics.LARGE_TRADES.labels(trade.exchange, kind).inc()
                self._to_rabbit("large_trades", trade_message(trade), trade.row_id)
            if self.publisher.pending:
                await self.publisher.flush()  # fenced (leased shards); raises like the producer
            if alerts and not await self._holds(shard):
                self.role.lose(shard)  # `alerts` is not fenced: a lost lease writes none
                raise Fenced(f"shard {shard} of {ROLE}: lease lost before its alerts")
            for alert in alerts:
                self._alert(alert)
            self._count(shard)
            if self.producer.pending:
                await self.producer.flush()  # raises on a Redis error: the batch stays pending

    def _alert(self, alert: MarketAlert) -> None:
        self.producer.publish(self.streams.market_alerts, alert)
        self.published["alerts"] += 1
        market_metrics.MARKET_ALERTS.labels(alert.type).inc()
        self._to_rabbit(f"alerts.{alert.type}", alert_message(alert), alert_id(alert))
        if alert.type != "LARGE_TRADE":
            logger.info("market_alert", extra={"type": alert.type, "reason": alert.reason})

    def _count(self, shard: int) -> None:
        unit = self.units.get(shard)
        if unit is None:
            return
        detector = unit.watch.detector
        for (venue, _symbol), count in detector.take_unpriced().items():
            market_metrics.LARGE_TRADE_UNPRICED.labels(venue).inc(count)
        if detector.invalid:
            market_metrics.LARGE_TRADE_INVALID.inc(detector.invalid)
            detector.invalid = 0

    async def _holds(self, shard: int) -> bool:
        """Whether this process still owns `shard` (static: always; leased: its lease holds
        the token it was taken with)."""
        token = self.role.token(shard)
        if not token:
            return token == 0
        value = await self.redis.get(self.role.lease_key(shard))
        return value is not None and as_text(value).split(" ", 1)[0] == str(token)

    def _to_rabbit(self, key: str, message: dict[str, Any], message_id: str) -> None:
        if self.rabbit is not None:
            self.rabbit.offer(key, orjson.dumps(message), message_id)

    def health(self) -> dict[str, Any]:
        """The /health `large_trades` block: what was published, replays skipped (entries
        delivered again, repeated row ids), the shards owned and their rebuilds, and the
        RabbitMQ publisher's state (null without RABBITMQ_URL)."""
        rabbit = self.rabbit
        broker = None
        if rabbit is not None:
            broker = {"connected": rabbit.connected, "pending": rabbit.pending,
                      "published": rabbit.published, "dropped": rabbit.dropped}  # fmt: skip
        units = list(self.units.values())
        duplicates = sum(u.skipped + u.watch.detector.duplicates for u in units)
        rebuilt = {str(i): asdict(done) for i, done in sorted(self.rebuilt.items())}
        return {"enabled": True, "published": dict(self.published), "duplicates": duplicates,
                "shards": sorted(self.units), "rebuilt": rebuilt, "rabbitmq": broker}  # fmt: skip

    async def rebuild(self, shard: int) -> Rebuilt:
        """Rebuild `shard`'s watch from its entries, publishing the missing outputs, and
        restart its group after them (`rebuild.py`)."""
        unit = self.units[shard]
        raw = self.streams.raw.shard(shard)
        upto = await acknowledged_upto(self.redis, raw, GROUP)
        written = await written_outputs(self.redis, self.streams, unit, seed_since(upto))
        emit = partial(self._emit, shard)
        done = await rebuild_shard(self.redis, unit, raw, GROUP, upto, written, emit)
        self.rebuilt[shard] = done
        logger.info("large_trades.shard_rebuilt", extra={"shard": shard, **asdict(done)})
        if done.truncated:
            logger.warning("large_trades.seed_truncated", extra={"shard": shard})
        return done

    def _start(self, stop: asyncio.Event, shard: int, token: int) -> list[Loop]:
        unit = self._take_unit(shard, token)
        return [self._take(shard, unit, stop)]

    async def _take(self, shard: int, unit: WatchShard, stop: asyncio.Event) -> None:
        """Rebuild the shard (retried while Redis is down), then consume it."""
        try:
            await rebuild_until_done(
                lambda: self.rebuild(shard), stop, "large_trades.rebuild_failed", shard
            )
        except Fenced:
            return  # lost while rebuilding (`_emit` gave it up)
        consumer = self.consumers.get(shard)
        if consumer is None or self.units.get(shard) is not unit:
            return  # lost meanwhile
        try:
            await consumer.run(stop)
        except Fenced:  # an acknowledgement refused: another owner has the shard now
            logger.warning("large_trades.fenced", extra={"shard": shard})
            self.role.lose(shard)

    async def run(self, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self.role.run(stop, partial(self._start, stop)), name="large-trades")
            if self.rabbit is not None:
                group.create_task(self.rabbit.run(stop), name="large-trades-rabbitmq")
        with contextlib.suppress(*TRANSIENT_REDIS_ERRORS):  # what a last failed flush held
            await self.producer.flush()


def rabbit_from_settings(settings: Settings) -> RabbitPublisher | None:
    if settings.rabbitmq_url is None:
        return None
    return RabbitPublisher(
        settings.rabbitmq_url, settings.rabbitmq_exchange, buffer_max=settings.rabbitmq_buffer_max
    )
