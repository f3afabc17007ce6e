"""Large-trade watcher I/O shell: exchange.raw (its own consumer group `large_trades`) ->
MarketWatch -> exchange.large_trades and `alerts`, and RabbitMQ when RABBITMQ_URL is set.

Its own group (not the aggregator's) so that its pace, failures and lag never hold up the
aggregator, and it can be switched off (LARGE_TRADES_ENABLED) without touching prices. A batch
is acknowledged only after its large trades and alerts were written to Redis (the producer's
flush); a failed flush leaves the batch pending, and its redelivery publishes nothing twice
(the detector remembers recent row ids, the producer keeps what it could not write). RabbitMQ
gets the same large trades (routing key `large_trades`) and alerts (`alerts.<type>`) through
the publisher's bounded buffer, confirmed by the broker.

The watcher keeps per-symbol state (liquidation clusters, funding and open-interest rules,
the prices that value trades in USD), so it owns shards (role `large_trades`,
`common/shard_roles.py`) rather than sharing them: one consumer per owned shard of
exchange.raw (the stablecoin context reaches every shard); large trades go to their group's
shard (fenced when leased), alerts to `alerts`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import partial
from typing import Any, Final

import orjson
import redis.asyncio as aredis

from microservices.ai_engine.large_trades.params import AlertParams
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
from microservices.common.shard_roles import Loop, ShardPublisher, ShardRole

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


def alert_id(alert: MarketAlert) -> str:
    return f"{alert.type}:{alert.venue}:{alert.symbol}:{alert.ts_ms}"


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
        self.watch = MarketWatch(AlertParams.from_settings(settings))
        # its own producer, flushed by the handler only: a batch is acknowledged after its
        # writes, never while another task's flush still holds them
        self.producer = producer or StreamProducer(redis, batch_size=settings.producer_batch_size)
        self.role = ShardRole(ROLE, settings, redis, owner=consumer_name)
        self.publisher = ShardPublisher(self.role, self.producer)
        self.rabbit = rabbit
        self.published = {"large_trades": 0, "alerts": 0}
        self._turn = asyncio.Lock()
        self.consumers = {shard: self._consumer(shard) for shard in self.role.owned}

    @property
    def consumer(self) -> StreamConsumer[RawRecord]:
        """The first owned shard's consumer (the only one with one shard)."""
        return self.consumers[min(self.consumers)]

    def _consumer(self, shard: int) -> StreamConsumer[RawRecord]:
        s = self.settings
        return StreamConsumer(
            self.redis, self.streams.raw.shard(shard), self.handle, group=GROUP,
            consumer=self.role.owner, batch_size=s.consumer_batch_size,
            block_ms=s.consumer_block_ms, claim_idle_ms=s.consumer_claim_idle_ms,
            max_deliveries=s.consumer_max_deliveries,
        )  # fmt: skip

    async def handle(self, batch: list[tuple[str, RawRecord]]) -> None:
        """One shard's batch; the shards' consumers take turns (one flush at a time, so a
        batch is acknowledged only after its own writes)."""
        async with self._turn:
            await self._handle(batch)

    async def _handle(self, batch: list[tuple[str, RawRecord]]) -> None:
        for _, record in batch:
            self.watch.update(record)
        trades, alerts = self.watch.take()
        for trade in trades:
            self.publisher.publish(self.streams.large_trades, trade)
            self.published["large_trades"] += 1
            kind = "liquidation" if trade.is_liquidation else "trade"
            market_metrics.LARGE_TRADES.labels(trade.exchange, kind).inc()
            self._to_rabbit("large_trades", trade_message(trade), trade.row_id)
        for alert in alerts:
            self.producer.publish(self.streams.market_alerts, alert)
            self.published["alerts"] += 1
            market_metrics.MARKET_ALERTS.labels(alert.type).inc()
            self._to_rabbit(f"alerts.{alert.type}", alert_message(alert), alert_id(alert))
            if alert.type != "LARGE_TRADE":
                logger.info("market_alert", extra={"type": alert.type, "reason": alert.reason})
        detector = self.watch.detector
        for (venue, _symbol), count in detector.take_unpriced().items():
            market_metrics.LARGE_TRADE_UNPRICED.labels(venue).inc(count)
        if detector.invalid:
            market_metrics.LARGE_TRADE_INVALID.inc(detector.invalid)
            detector.invalid = 0
        if self.publisher.pending:
            await self.publisher.flush()  # fenced (leased shards); raises like the producer
        if self.producer.pending:
            await self.producer.flush()  # raises on a Redis error: the batch stays pending

    def _to_rabbit(self, key: str, message: dict[str, Any], message_id: str) -> None:
        if self.rabbit is not None:
            self.rabbit.offer(key, orjson.dumps(message), message_id)

    def health(self) -> dict[str, Any]:
        """The /health `large_trades` block: what was published, replays skipped, and the
        RabbitMQ publisher's state (null without RABBITMQ_URL)."""
        rabbit = self.rabbit
        broker = None
        if rabbit is not None:
            broker = {"connected": rabbit.connected, "pending": rabbit.pending,
                      "published": rabbit.published, "dropped": rabbit.dropped}  # fmt: skip
        published = dict(self.published)
        return {"enabled": True, "published": published,
                "duplicates": self.watch.detector.duplicates, "rabbitmq": broker}  # fmt: skip

    def _start(self, stop: asyncio.Event, shard: int, token: int) -> list[Loop]:
        consumer = self.consumers.get(shard) if token == 0 else None
        if consumer is None:
            consumer = self.consumers[shard] = self._consumer(shard)
        return [consumer.run(stop)]

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
