"""Aggregator I/O shell: exchange.raw and exchange.orderbook (consumer group `aggregator` on
each) -> CrossExchangeState -> exchange.normalized.

Records and book entries are folded into the pure state as they arrive and acknowledged after
that (entries that fail to decode go to the stream's dead letter, as for raw records); a timer
polls the state every 50 ms and publishes the throttled snapshots (SPEC section 4). A restart
resumes from the group position, re-handles its own pending entries and reclaims entries a
dead aggregator left pending, so nothing acknowledged is lost and nothing pending is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
import redis.asyncio as aredis

from microservices.ai_engine.aggregation.usd_rates import Contract
from microservices.ai_engine.cross_exchange_aggregator import AggregatorParams, CrossExchangeState
from microservices.common import metrics
from microservices.common.book_schema import BookTop
from microservices.common.clock import now_ms
from microservices.common.consumer import StreamConsumer, consumer_from_settings
from microservices.common.errors import FatalError
from microservices.common.lifecycle import run_until_stopped
from microservices.common.producer import StreamProducer, producing
from microservices.common.records import NormalizedSnapshot, RawRecord
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS, create_redis
from microservices.common.settings import Settings
from microservices.common.streams import collector_key

logger = logging.getLogger(__name__)
POLL_INTERVAL_S = 0.05
INSTRUMENTS_REFRESH_S = 30.0  # how often the collector's published instruments are re-read


def aggregator_params(settings: Settings) -> AggregatorParams:
    return AggregatorParams(
        min_exchanges=settings.aggregator_min_exchanges,
        stale_after_ms=int(settings.aggregator_stale_after_s * 1000),
        outlier_pct=settings.aggregator_outlier_pct,
        min_emit_interval_ms=settings.aggregator_min_emit_interval_ms,
        max_emit_interval_ms=settings.aggregator_max_emit_interval_ms,
        vol_short_window_ms=int(settings.aggregator_vol_short_window_s * 1000),
        vol_long_window_ms=int(settings.aggregator_vol_long_window_s * 1000),
        vol_cap=settings.aggregator_vol_cap,
        volume_window_ms=int(settings.aggregator_volume_window_s * 1000),
    )


class AggregatorService:
    def __init__(
        self,
        settings: Settings,
        redis: aredis.Redis,
        producer: StreamProducer,
        consumer_name: str = "aggregator-1",
    ) -> None:
        self.settings = settings
        self.streams = settings.streams()
        self.state = CrossExchangeState(
            aggregator_params(settings), settings.usd_equivalents,
            settings.depeg_threshold_pct / 100.0,
        )  # fmt: skip
        self.redis = redis
        self.producer = producer
        self.emitted = 0
        self.last_snapshots: dict[str, NormalizedSnapshot] = {}
        self.consumer: StreamConsumer[RawRecord] = consumer_from_settings(
            redis, self.streams.raw, self.handle, settings, consumer_name
        )
        self.book_consumer: StreamConsumer[BookTop] | None = None
        if settings.orderbook_enabled:
            self.book_consumer = consumer_from_settings(
                redis, self.streams.orderbook, self.handle_books, settings, consumer_name
            )

    async def handle(self, batch: list[tuple[str, RawRecord]]) -> None:
        update = self.state.update
        for _, record in batch:
            update(record)

    async def handle_books(self, batch: list[tuple[str, BookTop]]) -> None:
        update = self.state.update_book
        for _, top in batch:
            update(top)

    def emit(self, now: int | None = None) -> list[NormalizedSnapshot]:
        snapshots = self.state.poll(now_ms() if now is None else now)
        for snap in snapshots:
            self.producer.publish(self.streams.normalized, snap)
            self.last_snapshots[snap.symbol] = snap
            metrics.NORMALIZED_EMITTED.labels(snap.symbol).inc()
            stale = sum(1 for why in snap.excluded.values() if why == "stale")
            metrics.STALE_VENUES.labels(snap.symbol).set(stale)
            metrics.OUTLIER_VENUES.labels(snap.symbol).set(len(snap.excluded) - stale)
        self.emitted += len(snapshots)
        for alert in self.state.take_alerts():
            self.producer.publish(self.streams.market_alerts, alert)
            metrics.DEPEG_ALERTS.labels(alert.data["asset"], alert.data["state"]).inc()
            logger.warning("aggregator.depeg", extra={"reason": alert.reason, **alert.data})
        for (symbol, venue, kind), count in self.state.take_unpriced().items():
            metrics.USD_UNPRICED.labels(symbol, venue, kind).inc(count)
        return snapshots

    async def load_instruments(self) -> None:
        """The collector's published set (`<prefix>collector.symbols`): the followed symbols
        and each venue's contract size and inverse flag (kept as is while Redis is down)."""
        key = collector_key(self.settings.stream_prefix, "symbols")
        try:
            raw: Any = await self.redis.hgetall(key)
        except TRANSIENT_REDIS_ERRORS:
            return
        followed, contracts = instruments_from(raw)
        if followed:
            self.state.set_followed(followed)
            self.state.set_contracts(contracts)

    async def run(self, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self.consumer.run(stop), name="aggregator-consumer")
            if self.book_consumer is not None:
                group.create_task(self.book_consumer.run(stop), name="aggregator-books")
            group.create_task(self._emit_loop(stop), name="aggregator-emit")

    async def _emit_loop(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while not stop.is_set():
            if loop.time() >= due:
                await self.load_instruments()
                due = loop.time() + INSTRUMENTS_REFRESH_S
            self.emit()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=POLL_INTERVAL_S)


def instruments_from(
    raw: dict[Any, Any],
) -> tuple[list[str], dict[tuple[str, str], Contract]]:
    """Followed symbols and (venue, canonical symbol) -> Contract from the published hash;
    fields that do not decode are skipped."""
    followed: list[str] = []
    contracts: dict[tuple[str, str], Contract] = {}
    for field, value in raw.items():
        name = field.decode() if isinstance(field, bytes) else str(field)
        if name.startswith("_"):
            continue
        followed.append(name)
        try:
            venues = orjson.loads(value)
            for venue, inst in venues.items():
                contract = Contract(float(inst["contract_size"]), bool(inst["inverse"]))
                contracts[venue, str(inst["symbol"])] = contract
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
            continue
    return followed, contracts


async def aggregator_main(settings: Settings, stop: asyncio.Event) -> None:
    if settings.redis_url is None:
        raise FatalError("REDIS_URL is required here (`cross-exchange run` embeds a Redis)")
    redis = create_redis(settings.redis_url, socket_timeout_s=settings.redis_socket_timeout_s)
    producer = StreamProducer(redis, batch_size=settings.producer_batch_size)
    service = AggregatorService(settings, redis, producer)
    try:
        async with producing(producer):
            await service.run(stop)
    finally:
        await redis.aclose()


def run_aggregator(settings: Settings) -> int:
    if settings.redis_url is None:
        raise FatalError("REDIS_URL is required for `aggregator` (`run` embeds a Redis)")
    from microservices.data_collector.service import serve_metrics

    serve_metrics(settings)
    run_until_stopped(lambda stop: aggregator_main(settings, stop))
    return 0


def snapshot_summary(snap: NormalizedSnapshot) -> dict[str, Any]:
    """Compact view of a snapshot for logs and the terminal view."""
    return {
        "symbol": snap.symbol,
        "avg_price": round(snap.avg_price, 6),
        "num_exchanges": snap.num_exchanges,
        "exchange_divergence": round(snap.exchange_divergence, 6),
        "funding_delta": snap.funding_delta,
        "volatility_factor": round(snap.volatility_factor, 3),
        "excluded": snap.excluded,
    }


if __name__ == "__main__":
    import sys

    from microservices.cli import main

    raise SystemExit(main(["aggregator", *sys.argv[1:]]))
