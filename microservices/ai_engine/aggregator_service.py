"""Aggregator I/O shell: exchange.raw and exchange.orderbook (consumer group `aggregator` on
each) -> CrossExchangeState -> exchange.normalized.

The aggregator owns a set of the streams' shards (`sharding.py`; one shard, the whole
stream, by default): each owned shard is a `ShardUnit` with a state of its own, rebuilt from
the shard's entries when the unit is taken. Ownership is static (OWNED_SHARDS, default all)
or dynamic (SHARD_LEASES: a lease per shard in Redis; a dead owner's shards move to the live
ones), run by `shard_roles.ShardRole` like the other owning roles; a leased shard's snapshots
(`ShardPublisher`) and acknowledgements carry its fencing token, so a paused former owner
cannot write or acknowledge after losing it. Records and book entries are folded
as they arrive and acknowledged after that (entries that fail to decode go to the stream's
dead letter); a timer polls the states every 50 ms and publishes the throttled snapshots
(SPEC section 4) of the symbols whose home shard it owns. Market-wide DEPEG alerts come from
the owner of shard 0. A restart resumes from the group position, re-handles its own pending
entries and reclaims entries a dead aggregator left pending, so nothing acknowledged is lost
and nothing pending is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import partial
from typing import Any

import orjson
import redis.asyncio as aredis

from microservices.ai_engine.aggregation.usd_rates import Contract, UsdRates
from microservices.ai_engine.aggregator_shards import ShardUnit, aggregator_params, new_state
from microservices.ai_engine.cross_exchange_aggregator import CrossExchangeState
from microservices.common import metrics
from microservices.common.book_schema import BookTop
from microservices.common.clock import now_ms
from microservices.common.consumer import StreamConsumer
from microservices.common.errors import FatalError
from microservices.common.followed import read_followed_parts
from microservices.common.lifecycle import run_until_stopped
from microservices.common.producer import StreamProducer, producing
from microservices.common.records import NormalizedSnapshot, RawRecord
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS, create_redis
from microservices.common.settings import Settings
from microservices.common.shard_lease import Fenced
from microservices.common.shard_publisher import ShardPublisher
from microservices.common.shard_rebuild import rebuild_until_done
from microservices.common.shard_roles import Loop, ShardRole
from microservices.common.sharding import shard_of

logger = logging.getLogger(__name__)
POLL_INTERVAL_S = 0.05
INSTRUMENTS_REFRESH_S = 30.0  # how often the collector's published instruments are re-read
ROLE = "aggregator"
__all__ = ["AggregatorService", "aggregator_params", "instruments_from"]


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
        self.shards = self.streams.raw.shards
        self.redis = redis
        self.producer = producer
        self.rates = UsdRates(settings.usd_equivalents)
        self.emitted = 0
        self.last_snapshots: dict[str, NormalizedSnapshot] = {}
        self.units: dict[int, ShardUnit] = {}
        self._followed: list[str] = []
        self._contracts: dict[tuple[str, str], Contract] = {}
        self.role = ShardRole(ROLE, settings, redis, owner=consumer_name, on_lost=self._forget)
        self.publisher = ShardPublisher(self.role, producer)  # fenced when leased
        self.consumer_name = self.role.owner
        for index in self.role.owned:  # static ownership: known now
            self.units[index] = self._unit(index)

    def _unit(self, index: int) -> ShardUnit:
        state = new_state(self.settings, self.rates)
        if self._followed:
            state.set_followed(self._followed)
            state.set_contracts(self._contracts)
        return ShardUnit(index, self.settings, self.redis, state, self.consumer_name)

    # the single-shard view (one unit: the default deployment, tests, the API's USD rates)
    @property
    def state(self) -> CrossExchangeState:
        return self.units[min(self.units)].state if self.units else new_state(self.settings)

    @property
    def consumer(self) -> StreamConsumer[RawRecord]:
        return self.units[min(self.units)].consumer

    @property
    def book_consumer(self) -> StreamConsumer[BookTop] | None:
        return self.units[min(self.units)].book_consumer if self.units else None

    async def handle(self, batch: list[tuple[str, RawRecord]]) -> None:
        await self.units[min(self.units)].handle(batch)

    def emit(self, now: int | None = None) -> list[NormalizedSnapshot]:
        """Poll every unit; publish the snapshots of symbols homed in the unit's shard (with
        the shard's fencing token when leased: `ShardPublisher`) and shard 0's market alerts."""
        at = now_ms() if now is None else now
        published: list[NormalizedSnapshot] = []
        for index, unit in list(self.units.items()):
            if unit.rebuilding:
                continue  # half folded: its first snapshots come once the rebuild is done
            snapshots = [s for s in unit.state.poll(at) if shard_of(s.symbol, self.shards) == index]
            for snap in snapshots:
                self.publisher.publish(self.streams.normalized, snap)
            published += snapshots
            self._publish_alerts(unit.state, index == 0)
        for snap in published:
            self._count(snap)
        self.emitted += len(published)
        return published

    def _count(self, snap: NormalizedSnapshot) -> None:
        self.last_snapshots[snap.symbol] = snap
        metrics.NORMALIZED_EMITTED.labels(snap.symbol).inc()
        stale = sum(1 for why in snap.excluded.values() if why == "stale")
        metrics.STALE_VENUES.labels(snap.symbol).set(stale)
        metrics.OUTLIER_VENUES.labels(snap.symbol).set(len(snap.excluded) - stale)

    def _publish_alerts(self, state: CrossExchangeState, publish: bool) -> None:
        for alert in state.take_alerts():
            if not publish:
                continue  # every unit sees the stablecoins; shard 0's owner speaks for them
            self.producer.publish(self.streams.market_alerts, alert)
            metrics.DEPEG_ALERTS.labels(alert.data["asset"], alert.data["state"]).inc()
            logger.warning("aggregator.depeg", extra={"reason": alert.reason, **alert.data})
        for (symbol, venue, kind), count in state.take_unpriced().items():
            metrics.USD_UNPRICED.labels(symbol, venue, kind).inc(count)

    async def load_instruments(self) -> None:
        """The collectors' published set (`common.followed`): the followed symbols
        and each venue's contract size and inverse flag (kept as is while Redis is down)."""
        try:
            raw = await read_followed_parts(self.redis, self.settings.stream_prefix)
        except TRANSIENT_REDIS_ERRORS:
            return
        followed, contracts = instruments_from(raw)
        if followed:
            self._followed, self._contracts = followed, contracts
            for unit in self.units.values():
                unit.state.set_followed(followed)
                unit.state.set_contracts(contracts)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._emit_loop(stop), name="aggregator-emit")
                group.create_task(self.publisher.run(stop), name="aggregator-fenced")
                await self.role.run(stop, partial(self._start, stop))
        finally:
            if self.role.leased:
                self.units.clear()  # handed over: this process owns nothing now

    def _start(self, stop: asyncio.Event, index: int, token: int) -> list[Loop]:
        unit = self.units.get(index) if token == 0 else None
        if unit is None:
            unit = self.units[index] = self._unit(index)
        if self.role.leased:  # acknowledgements fenced by the lease's token too
            for consumer in unit.consumers():
                consumer.fence = (self.role.lease_key(index), token)
        return [self._take(index, unit, stop)]

    async def _take(self, index: int, unit: ShardUnit, stop: asyncio.Event) -> None:
        """Rebuild the unit's state from its shard (retried while Redis is down, or while a
        former owner still resets the shard's group), then consume the shard."""
        unit.rebuilding = True
        await rebuild_until_done(unit.rebuild, stop, "aggregator.rebuild_failed", index)
        unit.rebuilding = False
        try:
            await asyncio.gather(*(c.run(stop) for c in unit.consumers()))
        except Fenced:  # an acknowledgement refused: another owner has the shard now
            logger.warning("aggregator.fenced", extra={"shard": index})
            self.role.lose(index)

    def _forget(self, index: int) -> None:
        self.units.pop(index, None)

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
    redis = create_redis(
        settings.redis_url,
        socket_timeout_s=settings.redis_socket_timeout_s,
        cluster=settings.redis_cluster,
    )
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
