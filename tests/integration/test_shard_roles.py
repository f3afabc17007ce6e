"""Shard ownership of the feature adapter (and the `shard_roles` pieces) on a real
redis-server with STREAM_SHARDS=4: static OWNED_SHARDS consume and publish only their
shards; two leased adapters split the shards 2+2 and a stopped one's shards move to the
other; a fenced publisher with a stale token writes nothing; two leased engines split the
feature adapter's and ExitBrain's shards and write each symbol's outputs in its home shard."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aredis

from microservices.ai_engine.engine import Engine
from microservices.ai_engine.features.engine import FeatureEngine
from microservices.ai_engine.features.exchange_feature_adapter import FeatureAdapter, feature_params
from microservices.ai_engine.large_trades.service import LargeTradeService
from microservices.common.clock import now_ms
from microservices.common.producer import StreamProducer
from microservices.common.settings import Settings
from microservices.common.shard_lease import Fenced
from microservices.common.shard_publisher import ShardPublisher, fenced_writer
from microservices.common.shard_roles import ShardRole
from microservices.common.sharding import shard_of
from microservices.ml.anomaly_service import AnomalyService
from tests import factories
from tests.integration.test_pipeline import publish
from tests.reliability.helpers import eventually

pytestmark = pytest.mark.integration
# home shards of 4: ETHUSDT 0, ADAUSDT 1, BNBUSDT 2, BTCUSDT 3
SYMBOLS = ("ETHUSDT", "ADAUSDT", "BNBUSDT", "BTCUSDT")
T0 = factories.T0


def snapshots(count: int, start: int = 0) -> list[Any]:
    return [
        factories.snapshot(symbol=symbol, ts_ms=T0 + 1000 * n)
        for n in range(start, start + count)
        for symbol in SYMBOLS
    ]


async def symbols_in(redis: aredis.Redis, name: str) -> list[str]:
    rows: Any = await redis.xrange(name)
    return [fields[b"symbol"].decode() for _, fields in rows]


@pytest.fixture
def settings(redis_server: Any, settings_factory: Any) -> Settings:
    return settings_factory(  # type: ignore[no-any-return]
        redis_url=redis_server.url, stream_shards=4, consumer_block_ms=100,
        consumer_claim_idle_ms=200, shard_lease_ttl_ms=600,
    )  # fmt: skip


async def test_static_owner_consumes_and_publishes_only_its_shards(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    assert [shard_of(s, 4) for s in SYMBOLS] == [0, 1, 2, 3]
    streams = settings.streams()
    await publish(real_redis, streams.normalized, snapshots(5))
    producer = StreamProducer(real_redis)
    adapter = FeatureAdapter(settings.model_copy(update={"owned_shards": "0,1"}), real_redis,
                             producer)  # fmt: skip
    assert sorted(adapter.consumers) == [0, 1]
    assert [await c.run_until_idle() for c in adapter.consumers.values()] == [5, 5]
    await producer.flush()
    features = streams.features
    assert await symbols_in(real_redis, features.shard(0).name) == ["ETHUSDT"] * 5
    assert await symbols_in(real_redis, features.shard(1).name) == ["ADAUSDT"] * 5
    assert [await real_redis.exists(features.shard(i).name) for i in (2, 3)] == [0, 0]
    assert await real_redis.exists(features.base) == 0  # never the unsharded name
    # shards 2-3 of exchange.normalized were not read: no group there, entries untouched
    for index in (2, 3):
        assert await real_redis.xinfo_groups(streams.normalized.shard(index).name) == []
        assert await real_redis.xlen(streams.normalized.shard(index).name) == 5
    assert set(adapter.latest) == {"ETHUSDT", "ADAUSDT"}


async def _run(adapter: FeatureAdapter, producer: StreamProducer) -> tuple[asyncio.Event, Any]:
    stop = asyncio.Event()

    async def both() -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(producer.run(stop))
            group.create_task(adapter.run(stop))

    return stop, asyncio.create_task(both())


def owned_by(*adapters: FeatureAdapter) -> Callable[[], Awaitable[Any]]:
    async def check() -> Any:
        owned = [sorted(a.role.owned) for a in adapters]
        return owned if all(len(o) == 4 // len(adapters) for o in owned) else None

    return check


async def test_two_leased_adapters_split_the_shards_and_a_stopped_ones_move(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    leased = settings.model_copy(update={"shard_leases": True})
    streams = leased.streams()
    first = FeatureAdapter(leased, real_redis, StreamProducer(real_redis), "fa-1")
    second = FeatureAdapter(leased, real_redis, StreamProducer(real_redis), "fa-2")
    stop_first, task_first = await _run(first, first.producer)
    stop_second, task_second = await _run(second, second.producer)
    try:
        split = await eventually(owned_by(first, second), 15, "a 2+2 split")
        assert sorted(split[0] + split[1]) == [0, 1, 2, 3]
        await publish(real_redis, streams.normalized, snapshots(3))

        async def all_written() -> bool:
            counts = [await real_redis.xlen(s.name) for s in streams.features.shards_all()]
            return counts == [3, 3, 3, 3]

        await eventually(all_written, 15, "3 vectors in each shard of exchange.features")
        assert first.publisher.written + second.publisher.written == 12
        for symbol in SYMBOLS:  # each vector in its symbol's home shard, by its owner
            home = streams.features.shard_for(symbol).name
            assert await symbols_in(real_redis, home) == [symbol] * 3
        moved = sorted(first.role.owned)
        stop_first.set()
        await asyncio.wait_for(task_first, 5)
        await eventually(owned_by(second), 15, "the second adapter owning all 4 shards")
        await publish(real_redis, streams.normalized, snapshots(2, start=3))

        async def moved_written() -> bool:
            counts = [await real_redis.xlen(streams.features.shard(i).name) for i in moved]

            return counts == [5] * len(moved)

        await eventually(moved_written, 15, "the moved shards' vectors written by the second")
        assert second.publisher.dropped == 0
    finally:
        stop_first.set()
        stop_second.set()
        for task in (task_first, task_second):
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 5)


async def _leased_role(settings: Settings, redis: aredis.Redis) -> tuple[ShardRole, Any, Any]:
    role = ShardRole("feature_adapter", settings.model_copy(update={"shard_leases": True}), redis)
    stop = asyncio.Event()
    task = asyncio.create_task(role.run(stop, lambda shard, token: []))

    async def all_four() -> bool:
        return len(role.owned) == 4

    await eventually(all_four, 15, "the only owner taking the 4 shards")
    return role, stop, task


async def test_a_stale_token_writes_nothing(real_redis: aredis.Redis, settings: Settings) -> None:
    streams = settings.streams()
    role, stop, task = await _leased_role(settings, real_redis)
    try:
        publisher = ShardPublisher(role, StreamProducer(real_redis))
        token = role.owned[3]
        # another owner took shard 3 meanwhile (our process paused past the lease)
        await real_redis.set(role.lease_key(3), f"{token + 1} someone-else")
        publisher.publish(streams.features, factories.features("BTCUSDT"))  # shard 3
        publisher.publish(streams.features, factories.features("ETHUSDT"))  # shard 0
        assert await publisher.flush() == 1
        assert await real_redis.xlen(streams.features.shard(3).name) == 0
        assert await symbols_in(real_redis, streams.features.shard(0).name) == ["ETHUSDT"]
        assert (publisher.dropped, 3 in role.owned) == (1, False)
        # later records of the lost shard are dropped at once
        publisher.publish(streams.features, factories.features("BTCUSDT"))
        assert (publisher.pending, publisher.dropped) == (0, 2)
        # the single-entry writer (ExitBrain's) refuses the same way
        status = streams.status.shard_for("BTCUSDT")
        with pytest.raises(Fenced):
            await fenced_writer(role, status, status.schema.encode(factories.status()))
        assert await real_redis.exists(status.name) == 0
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    assert role.owned == {}
    assert await real_redis.exists(role.lease_key(0)) == 0  # released at stop


async def test_static_role_writes_plainly_and_stops_its_loops(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    role = ShardRole("exitbrain", settings.model_copy(update={"owned_shards": "1-2"}), real_redis)
    assert role.owned == {1: 0, 2: 0}
    assert [role.owns(s) for s in SYMBOLS] == [False, True, True, False]
    started: list[int] = []

    async def forever(shard: int) -> None:
        started.append(shard)
        await asyncio.Event().wait()  # ignores stop: cancelled after the grace time

    stop = asyncio.Event()
    task = asyncio.create_task(role.run(stop, lambda shard, token: [forever(shard)]))
    await eventually(lambda: _true(len(started) == 2), 5, "both loops started")
    stop.set()
    await asyncio.wait_for(task, 3)
    status = settings.streams().status.shard_for("ADAUSDT")
    await fenced_writer(role, status, status.schema.encode(factories.status(symbol="ADAUSDT")))
    assert await symbols_in(real_redis, status.name) == ["ADAUSDT"]
    assert sorted(started) == [1, 2]


async def _true(value: bool) -> bool:
    return value


async def active(redis: aredis.Redis, name: str) -> set[tuple[str, bool]]:
    rows: Any = await redis.xrange(name)
    return {(f[b"symbol"].decode(), f[b"cross_exchange_active"] == b"true") for _, f in rows}


async def test_two_leased_engines_split_the_feature_adapter_and_exitbrain(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    leased = settings.model_copy(update={
        "shard_leases": True, "venues": ["binance_futures", "bybit", "coinbase"],
        "symbols": ",".join(SYMBOLS), "exitbrain_interval_s": 0.2, "exitbrain_warmup_s": 0.0,
    })  # fmt: skip
    streams = leased.streams()
    # without the aggregator: the test feeds exchange.normalized itself
    engines = [Engine(leased, real_redis, with_aggregator=False, notify=False) for _ in range(2)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(e.run(stop, serve_http=False)) for e in engines]

    async def split() -> bool:
        roles = [(e.features.role, e.exitbrain_role) for e in engines]
        return all(len(f.owned) == 2 and len(x.owned) == 2 for f, x in roles)

    async def home_shards_written() -> bool:
        now = now_ms()
        fresh = [factories.snapshot(symbol=s, ts_ms=now, excluded={}) for s in SYMBOLS]
        await publish(real_redis, streams.normalized, fresh)
        for symbol in SYMBOLS:
            if symbol not in await symbols_in(real_redis, streams.features.shard_for(symbol).name):
                return False
            if (symbol, True) not in await active(
                real_redis, streams.status.shard_for(symbol).name
            ):
                return False  # ExitBrain read the snapshot from the home shard (else: none)
        return True

    try:
        await eventually(
            split, 15, "each engine owning 2 shards of the feature adapter and ExitBrain"
        )
        await eventually(home_shards_written, 20, "features and status in every home shard")
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
    for stream in (streams.features, streams.status):
        for shard in stream.shards_all():
            assert set(await symbols_in(real_redis, shard.name)) == {
                s for s in SYMBOLS if shard_of(s, 4) == shard.index
            }
        assert await real_redis.exists(stream.base) == 0


async def test_a_new_owner_rebuilds_and_publishes_each_vector_once(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    streams = settings.streams()
    btc = [factories.snapshot(ts_ms=T0 + 1000 * n, avg_price=100.0 + n) for n in range(11)]
    await publish(real_redis, streams.normalized, btc[:10])
    only_btc = settings.model_copy(update={"owned_shards": "3"})
    old = FeatureAdapter(only_btc, real_redis, StreamProducer(real_redis))
    rows: Any = await real_redis.xrange(streams.normalized.shard(3).name)
    entries = [(i.decode(), streams.normalized.schema.decode(f)) for i, f in rows]
    await old._handle(3, entries[:6])  # six vectors out, then it dies before acknowledging
    await old.producer.flush()
    new = FeatureAdapter(only_btc, real_redis, StreamProducer(real_redis), "feature-adapter-2")
    assert await new.rebuild(3) == (10, 4)  # folds all ten, publishes the four missing
    assert await new.consumer.run_until_idle() == 10  # delivered again: folded already
    await publish(real_redis, streams.normalized, btc[10:])
    assert await new.consumer.run_until_idle() == 1
    await new.producer.flush()
    rows = await real_redis.xrange(streams.features.shard(3).name)
    vectors = [streams.features.schema.decode(f) for _, f in rows]
    assert [v.ts_ms for v in vectors] == [s.ts_ms for s in btc]  # each once, in order
    reference = FeatureEngine(feature_params(settings))
    schema = streams.features.schema  # compared as they travel (text-encoded floats)
    expected = [schema.decode(schema.encode(reference.update(s))) for s in btc]
    assert vectors == expected  # as one adapter fed each once


async def test_a_failing_loop_ends_the_role_with_its_error(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    role = ShardRole("anomaly", settings, real_redis)  # static: all 4 shards
    stop = asyncio.Event()
    ended: list[int] = []

    async def loop(shard: int) -> None:
        if shard == 2:
            raise ValueError("bad entry handling")
        try:
            await stop.wait()
        finally:
            ended.append(shard)

    with pytest.raises(ValueError, match="bad entry handling"):
        await asyncio.wait_for(role.run(stop, lambda shard, token: [loop(shard)]), 5)
    assert sorted(ended) == [0, 1, 3]  # the other shards' loops were stopped


async def test_anomaly_and_large_trade_services_read_only_their_shards(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    owned = settings.model_copy(update={"owned_shards": "1,3"})
    streams = owned.streams()
    producer = StreamProducer(real_redis)
    anomalies = AnomalyService(owned, real_redis, producer)
    trades = LargeTradeService(owned, real_redis, producer)
    assert {i: c.stream.name for i, c in anomalies.consumers.items()} == {
        i: streams.normalized.shard(i).name for i in (1, 3)
    }
    assert {i: c.stream.name for i, c in trades.consumers.items()} == {
        i: streams.raw.shard(i).name for i in (1, 3)
    }
    await publish(real_redis, streams.normalized, snapshots(2))
    assert [await c.run_until_idle() for c in anomalies.consumers.values()] == [2, 2]
    for index in (0, 2):  # never read: no group there
        assert await real_redis.xinfo_groups(streams.normalized.shard(index).name) == []


async def test_a_loop_that_swallows_a_cancellation_still_stops(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    """A loop that ignores stop and swallows its first cancellation (as redis-py can, mid-
    command) is cancelled again: the role still stops, and the loop ends cancelled."""
    role = ShardRole("anomaly", settings, real_redis)  # static: all 4 shards
    stop = asyncio.Event()
    cancels: list[int] = []

    async def stubborn(shard: int) -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancels.append(shard)
                if cancels.count(shard) == 1:
                    continue  # swallowed, like a cancellation lost inside a command
                raise

    run = asyncio.create_task(role.run(stop, lambda shard, token: [stubborn(shard)]))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(run, 10)  # it used to wait for the loops for ever
    assert sorted(cancels) == [0, 0, 1, 1, 2, 2, 3, 3]  # each swallowed one, ended on the next
