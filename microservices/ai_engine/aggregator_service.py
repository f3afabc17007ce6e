"""Aggregator I/O shell: exchange.raw and exchange.orderbook (consumer group `aggregator` on
each) -> CrossExchangeState -> exchange.normalized.

The aggregator owns a set of the streams' shards (`sharding.py`; one shard, the whole
stream, by default): each owned shard is a `ShardUnit` with a state of its own, rebuilt from
the shard's entries when the unit is taken. Ownership is static (OWNED_SHARDS, default all)
or dynamic (SHARD_LEASES: a lease per shard in Redis, `shard_lease.py`; a dead owner's shards
move to the live ones, and the snapshots of a leased shard are written with its fencing token,
so a paused former owner cannot write after losing it). Records and book entries are folded
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
import os
import socket
from typing import Any

import orjson
import redis.asyncio as aredis
from redis.exceptions import ResponseError

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
from microservices.common.shard_lease import Fenced, ShardLeases, fenced_xadd, lease_key
from microservices.common.sharding import parse_shards, shard_of

logger = logging.getLogger(__name__)
POLL_INTERVAL_S = 0.05
INSTRUMENTS_REFRESH_S = 30.0  # how often the collector's published instruments are re-read
ROLE = "aggregator"
__all__ = ["AggregatorService", "aggregator_params", "instruments_from"]


def owner_id() -> str:
    """This process as a lease owner and group consumer: host and pid."""
    return f"{socket.gethostname()}-{os.getpid()}"


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
        self.tokens: dict[int, int] = {}  # leased shards: fencing token
        self._tasks: dict[int, list[asyncio.Task[None]]] = {}
        self._fenced_pending: dict[int, list[NormalizedSnapshot]] = {}
        self._group: asyncio.TaskGroup | None = None
        self._followed: list[str] = []
        self._contracts: dict[tuple[str, str], Contract] = {}
        self.leases: ShardLeases | None = None
        if settings.shard_leases:
            self.consumer_name = f"{consumer_name}-{owner_id()}"
            self.leases = ShardLeases(
                redis, settings.stream_prefix, ROLE, self.shards, self.consumer_name,
                ttl_ms=settings.shard_lease_ttl_ms,
            )  # fmt: skip
        else:
            self.consumer_name = consumer_name
            owned = parse_shards(settings.owned_shards, self.shards) or range(self.shards)
            for index in sorted(owned):
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
        """Poll every unit; publish the snapshots of symbols homed in the unit's shard (leased
        units: collected for `_write_fenced`) and shard 0's market alerts."""
        at = now_ms() if now is None else now
        published: list[NormalizedSnapshot] = []
        for index, unit in list(self.units.items()):
            snapshots = [s for s in unit.state.poll(at) if shard_of(s.symbol, self.shards) == index]
            if index not in self.tokens:
                for snap in snapshots:
                    self.producer.publish(self.streams.normalized, snap)
            else:
                self._fenced_pending.setdefault(index, []).extend(snapshots)
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

    async def _write_fenced(self) -> None:
        """Write the leased units' snapshots, each shard's with its token; a shard whose
        token is refused is dropped (its new owner writes it now)."""
        pending, self._fenced_pending = self._fenced_pending, {}
        for index, snapshots in pending.items():
            token = self.tokens.get(index)
            if token is None or not snapshots:
                continue
            shard = self.streams.normalized.shard(index)
            entries: list[Any] = [shard.schema.encode(snap) for snap in snapshots]
            key = lease_key(self.settings.stream_prefix, ROLE, index)
            try:
                await fenced_xadd(self.redis, key, token, shard.name, shard.maxlen, entries)
            except Fenced:
                logger.warning("aggregator.fenced", extra={"shard": index, "token": token})
                self._drop(index)
            except TRANSIENT_REDIS_ERRORS:
                return  # snapshots are a state's latest view: the next poll sends newer ones

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
        async with asyncio.TaskGroup() as group:
            self._group = group
            if self.leases is None:
                for index in list(self.units):
                    await self._start(index, stop)
            else:
                group.create_task(self._lease_loop(stop), name="aggregator-leases")
            group.create_task(self._emit_loop(stop), name="aggregator-emit")

    async def _start(self, index: int, stop: asyncio.Event) -> None:
        """Rebuild a unit's state from its shard, then consume it (retried while Redis is
        down, or while a former owner still resets the shard's group: the rebuild is part of
        taking the shard). A shard lost during its rebuild is not started."""
        unit = self.units[index]
        while not stop.is_set():
            try:
                await unit.rebuild()
                break
            except (*TRANSIENT_REDIS_ERRORS, ResponseError) as exc:
                extra = {"shard": index, "error": repr(exc)}
                logger.warning("aggregator.rebuild_failed", extra=extra)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
        if self.units.get(index) is not unit or stop.is_set():
            return
        assert self._group is not None
        token = self.tokens.get(index)
        for consumer in unit.consumers():
            if token is not None:
                consumer.fence = (lease_key(self.settings.stream_prefix, ROLE, index), token)
        self._tasks[index] = [
            self._group.create_task(
                self._consume(index, c, stop), name=f"aggregator-{c.stream.name}"
            )
            for c in unit.consumers()
        ]

    async def _consume(
        self, index: int, consumer: StreamConsumer[Any], stop: asyncio.Event
    ) -> None:
        try:
            await consumer.run(stop)
        except Fenced:  # the lease was lost: another owner has the shard now
            logger.warning("aggregator.fenced", extra={"shard": index})
            self._drop(index)

    def _drop(self, index: int) -> None:
        for task in self._tasks.pop(index, []):
            task.cancel()
        self.units.pop(index, None)
        self.tokens.pop(index, None)

    async def _lease_loop(self, stop: asyncio.Event) -> None:
        assert self.leases is not None

        async def changed(gained: set[int], lost: set[int]) -> None:
            for index in lost:
                self._drop(index)
            for index in sorted(gained):
                token = self.leases.owned.get(index) if self.leases else None
                if token is None:
                    continue  # lost again before this change was delivered
                self.tokens[index] = token
                self.units[index] = self._unit(index)
                await self._start(index, stop)

        try:
            await self.leases.run(stop, changed)
        finally:
            await self.leases.release_all()
            for index in list(self.units):  # handed over: this process owns nothing now
                self._drop(index)

    async def _emit_loop(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while not stop.is_set():
            if loop.time() >= due:
                await self.load_instruments()
                due = loop.time() + INSTRUMENTS_REFRESH_S
            self.emit()
            if self._fenced_pending:
                await self._write_fenced()
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
