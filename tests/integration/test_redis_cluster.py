"""The product's Redis layer on a real 3-master Redis Cluster (issue 19, item 3).

Streams named with hash tags (`...:{0}`, `...:{1}`, ...) sit on known slots; the tests pick
tags whose slots are on different nodes and check the producer's batch write, the consumer
group loop (acks, dead letters), the multi-stream reader and the collector's own writes work
there exactly as on one node.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as aredis
from redis.asyncio.cluster import RedisCluster
from redis.cluster import RedisCluster as SyncRedisCluster

from microservices.ai_engine.health import gather_health
from microservices.common import cluster_xadd, metrics
from microservices.common.consumer import StreamConsumer
from microservices.common.producer import StreamProducer
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS, is_cluster
from microservices.common.redis_memory import cluster_memory_values, sample_redis_memory
from microservices.common.settings import Settings
from microservices.common.streams import Stream, Streams, build_streams, collector_key
from microservices.common.xread import StreamReader, xread_multi
from microservices.data_collector.service import Collector
from microservices.exchange_simulator.config import MarketConfig, SimulatorConfig
from microservices.exchange_simulator.server import start_simulator
from microservices.healthcheck import heartbeat_exists
from microservices.runner import simulator_settings
from tests import factories as f
from tests.integration.test_validation_sharded import (  # noqa: F401 - stub_api: a fixture
    fill_shards,
    line,
    run,
    stub_api,
)
from tests.redis_cluster import LocalRedisCluster
from tests.tools import require_tools

pytestmark = pytest.mark.integration


def spread(cluster: RedisCluster, base: str, count: int = 3) -> list[str]:
    """`count` keys `<base>:{tag}` whose slots are served by `count` different nodes."""
    names: dict[str, str] = {}
    tag = 0
    while len(names) < count:
        name = f"{base}:{{{tag}}}"
        node = cluster.get_node_from_key(name)
        assert node is not None
        names.setdefault(node.name, name)
        tag += 1
    return list(names.values())


def renamed(stream: Stream[Any], name: str) -> Stream[Any]:
    return dataclasses.replace(stream, name=name)


def redirects(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The error replies the cluster batch write handles, by type name, as they happen."""
    seen: list[str] = []
    handle = cluster_xadd._redirect

    async def spy(*args: Any) -> Any:
        seen.append(type(args[3]).__name__)
        return await handle(*args)

    monkeypatch.setattr(cluster_xadd, "_redirect", spy)
    return seen


async def cluster_of(redis: aredis.Redis) -> RedisCluster:
    assert is_cluster(redis)
    await redis.initialize()
    return redis


async def test_the_fixture_is_a_three_master_cluster(
    redis_cluster: LocalRedisCluster, cluster_redis: aredis.Redis
) -> None:
    cluster = await cluster_of(cluster_redis)
    assert len(redis_cluster.ports) == 3
    assert sorted(n.port for n in cluster.get_primaries()) == sorted(redis_cluster.ports)
    names = spread(cluster, "probe")
    slots = [await cluster.cluster_keyslot(name) for name in names]
    assert slots == [cluster.keyslot(name) for name in names]
    assert len({cluster.get_node_from_key(name).name for name in names}) == 3  # type: ignore[union-attr]


async def test_producer_batches_reach_streams_on_every_node_in_order(
    cluster_redis: aredis.Redis, streams: Streams
) -> None:
    cluster = await cluster_of(cluster_redis)
    shards = [renamed(streams.raw, n) for n in spread(cluster, streams.raw.name)]
    producer = StreamProducer(cluster_redis, batch_size=64)  # several writes, each to 3 nodes
    sent: dict[str, list[Any]] = {s.name: [] for s in shards}
    for i in range(600):
        shard = shards[i % 3 if i % 50 else 0]  # interleaved, with runs on one shard
        record = f.trade(trade_id=str(i))
        producer.publish(shard, record)
        sent[shard.name].append(record)
    assert await producer.flush() == 600
    assert producer.sent == 600 and producer.pending == 0
    for shard in shards:
        rows: Any = await cluster_redis.xrange(shard.name)
        assert [shard.schema.decode(fields) for _, fields in rows] == sent[shard.name]
        plain = f"{shard.name}:plain"  # same slot: the tag is the shard's
        for record in sent[shard.name][:5]:
            fields: Any = shard.schema.encode(record)
            await cluster_redis.xadd(plain, fields)
        expected: Any = await cluster_redis.xrange(plain)
        assert [list(e[1].items()) for e in rows[:5]] == [list(e[1].items()) for e in expected]


async def test_a_node_with_an_empty_script_cache_gets_the_script(
    cluster_redis: aredis.Redis, streams: Streams, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = await cluster_of(cluster_redis)
    shards = [renamed(streams.normalized, n) for n in spread(cluster, streams.normalized.name)]
    producer = StreamProducer(cluster_redis)
    for shard in shards:
        producer.publish(shard, f.snapshot())
    await producer.flush()
    for node in cluster.get_primaries():  # what restarted nodes look like
        await node.execute_command("SCRIPT", "FLUSH")
    seen = redirects(monkeypatch)
    for shard in shards:
        producer.publish(shard, f.snapshot(symbol="ETHUSDT", excluded={}))
    assert await producer.flush() == 3
    assert seen == ["NoScriptError"] * 3  # one per node, each loaded there and resent
    for shard in shards:
        assert await cluster_redis.xlen(shard.name) == 2  # written once, not twice


async def test_a_moved_slot_is_followed(
    cluster_redis: aredis.Redis, streams: Streams, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stale slot table (the client thinks another node serves the slot) gets MOVED: the
    batch goes to the right node, once."""
    cluster = await cluster_of(cluster_redis)
    name = spread(cluster, streams.raw.name)[0]
    slot = cluster.keyslot(name)
    right = cluster.nodes_manager.slots_cache[slot]
    wrong = next(n for n in cluster.get_primaries() if n is not right[0])
    cluster.nodes_manager.slots_cache[slot] = [wrong]
    producer, seen = StreamProducer(cluster_redis), redirects(monkeypatch)
    producer.publish(renamed(streams.raw, name), f.trade(trade_id="m1"))
    assert await producer.flush() == 1
    assert seen == ["MovedError"]
    assert cluster.nodes_manager.slots_cache[slot][0].name == right[0].name
    assert await cluster_redis.xlen(name) == 1


@pytest.mark.parametrize("target_known", [True, False])
async def test_a_migrating_slot_is_written_on_its_target_after_asking(
    cluster_redis: aredis.Redis,
    stream_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    target_known: bool,
) -> None:
    """A slot being moved from A to B: a new stream's batch gets ASK from A and is written on B
    (after ASKING), once, also when the client's node table lacks B; the move then completes
    and the stream is read from B."""
    cluster = await cluster_of(cluster_redis)
    name = f"{stream_prefix}ask:{{ask-{stream_prefix}}}"
    slot = cluster.keyslot(name)
    source = cluster.nodes_manager.slots_cache[slot][0]
    target = next(n for n in cluster.get_primaries() if n.name != source.name)
    ids = {n.name: await n.execute_command("CLUSTER", "MYID") for n in (source, target)}
    await target.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source.name])
    await source.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target.name])
    if not target_known:
        del cluster.nodes_manager.nodes_cache[target.name]
    producer, seen = StreamProducer(cluster_redis), redirects(monkeypatch)
    stream = renamed(build_streams(stream_prefix).raw, name)
    producer.publish(stream, f.trade(trade_id="a1"))
    producer.publish(stream, f.trade(trade_id="a2"))
    assert await producer.flush() == 2
    assert seen[0] == "AskError" and set(seen) <= {"AskError", "NoScriptError"}
    assert cluster.get_node(node_name=target.name) is not None  # learnt from the ASK
    for node in (target, source):  # the move completes (the source holds no key of the slot)
        await node.execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[target.name])
    rows: Any = await cluster_redis.xrange(name)
    assert [stream.schema.decode(fields).trade_id for _, fields in rows] == ["a1", "a2"]
    assert cluster.nodes_manager.slots_cache[slot][0].name == target.name  # MOVED followed


async def test_consumer_acks_and_dead_letters_on_a_cluster(
    cluster_redis: aredis.Redis, streams: Streams
) -> None:
    cluster = await cluster_of(cluster_redis)
    stream = renamed(streams.raw, spread(cluster, streams.raw.name)[1])
    producer = StreamProducer(cluster_redis)
    producer.publish(stream, f.trade(trade_id="1"))
    await producer.flush()
    await cluster_redis.xadd(stream.name, {"type": "trade", "price": "NaN"})
    producer.publish(stream, f.trade(trade_id="2"))
    await producer.flush()
    got: list[Any] = []

    async def handler(batch: list[tuple[str, Any]]) -> None:
        got.extend(record for _, record in batch)

    reader = StreamConsumer(cluster_redis, stream, handler, group="cluster-test")
    assert await reader.run_until_idle() == 3
    assert [r.trade_id for r in got] == ["1", "2"]
    assert reader.dead_lettered == 1
    dead: Any = await cluster_redis.xrange(stream.dead_letter)
    assert [row[1][b"price"] for row in dead] == [b"NaN"]
    pending: Any = await cluster_redis.xpending(stream.name, "cluster-test")
    assert pending["pending"] == 0


async def test_stream_reader_reads_streams_on_every_node(
    cluster_redis: aredis.Redis, stream_prefix: str
) -> None:
    cluster = await cluster_of(cluster_redis)
    names = [*spread(cluster, f"{stream_prefix}r", 3), f"{stream_prefix}r:{{0}}:b"]
    for i, name in enumerate(names):
        await cluster_redis.xadd(name, {"n": str(i)})
    rows = await xread_multi(cluster_redis, dict.fromkeys(names, "0-0"), 10, None)
    got = {key.decode(): [e[1][b"n"] for e in entries] for key, entries in rows}
    assert got == {name: [str(i).encode()] for i, name in enumerate(names)}

    last = {name: "$" for name in names}
    last = {name: (await cluster_redis.xinfo_stream(name))["last-generated-id"].decode()
            for name in names}  # fmt: skip
    async with StreamReader(cluster_redis) as reader:
        first = asyncio.ensure_future(reader.read(last, 10, 2_000))
        await asyncio.sleep(0.2)  # every slot's read is blocking now
        await cluster_redis.xadd(names[2], {"n": "late"})
        rows = await first
        assert [(k.decode(), [e[1][b"n"] for e in v]) for k, v in rows] == [(names[2], [b"late"])]
        last[names[2]] = rows[0][1][0][0].decode()
        await cluster_redis.xadd(names[0], {"n": "next"})
        rows = await reader.read(last, 10, 2_000)  # the quiet slots' reads were kept
        assert [(k.decode(), [e[1][b"n"] for e in v]) for k, v in rows] == [(names[0], [b"next"])]


async def test_redis_memory_sums_the_masters(cluster_redis: aredis.Redis) -> None:
    cluster = await cluster_of(cluster_redis)
    infos: Any = await cluster.info("memory", target_nodes=RedisCluster.PRIMARIES)
    assert len(infos) == 3
    assert await sample_redis_memory(cluster_redis)
    used = metrics.REDIS_USED_MEMORY._value.get()
    assert used > max(int(info["used_memory"]) for info in infos.values())  # three summed
    assert metrics.REDIS_MAXMEMORY._value.get() == 0  # the test nodes have no limit
    two: dict[str, dict[Any, Any]] = {
        "a": {"used_memory": 10, "maxmemory": 100},
        "b": {b"used_memory": b"20", "maxmemory": 50},
    }
    assert cluster_memory_values(two) == (30, 150)
    assert cluster_memory_values({**two, "c": {"used_memory": 1, "maxmemory": 0}}) == (31, 0)


async def test_engine_health_reads_every_stream_on_a_cluster(
    redis_cluster: LocalRedisCluster,
    cluster_redis: aredis.Redis,
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(redis_url=redis_cluster.url, redis_cluster=True)
    producer = StreamProducer(cluster_redis)
    producer.publish(settings.streams().raw, f.trade(trade_id="h1"))
    await producer.flush()
    _, body = await gather_health(cluster_redis, settings, {})
    assert body["redis"] == {"connected": True}
    assert body["streams"][settings.streams().raw.name]["length"] == 1


def test_container_healthcheck_finds_the_heartbeat_on_a_cluster(
    redis_cluster: LocalRedisCluster, settings_factory: Callable[..., Settings]
) -> None:
    settings = settings_factory(redis_url=redis_cluster.url, redis_cluster=True)
    assert not heartbeat_exists(settings)
    key = collector_key(settings.stream_prefix, "health")
    with SyncRedisCluster.from_url(redis_cluster.url) as client:
        client.hset(key, "binance", "{}")
        assert redis_cluster.node_url(client.get_node_from_key(key).port) in redis_cluster.urls
    assert heartbeat_exists(settings)


async def test_collector_writes_records_health_and_symbols_on_a_cluster(
    redis_cluster: LocalRedisCluster,
    cluster_redis: aredis.Redis,
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(
        redis_url=redis_cluster.url, redis_cluster=True, venues="binance,bybit",
        symbols="BTCUSDT,ETHUSDT", ws_reconnect_base_s=0.05, rest_poll_interval_s=1.0,
        rest_history_dir="",
    )  # fmt: skip
    config = SimulatorConfig(port=0, market=MarketConfig(symbols=("BTCUSDT", "ETHUSDT"), seed=3))
    async with start_simulator(config) as sim:
        wired = simulator_settings(settings, sim.base_url, sim.ws_base)
        stop = asyncio.Event()
        collector = Collector(wired, cluster_redis)
        task = asyncio.create_task(collector.run(stop))
        try:
            await asyncio.wait_for(_collector_wrote(cluster_redis, wired), timeout=60)
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=20)
    assert collector.producer.dropped == 0


async def _collector_wrote(redis: aredis.Redis, settings: Settings) -> None:
    prefix = settings.stream_prefix
    while True:
        raw: Any = await redis.xrange(settings.streams().raw.name)
        health: Any = await redis.hgetall(collector_key(prefix, "health"))
        symbols: Any = await redis.hgetall(collector_key(prefix, "symbols"))
        venues = {r[1][b"exchange"] for r in raw}
        if venues == {b"binance", b"bybit"} and {b"binance", b"bybit"} <= set(health):
            assert {b"BTCUSDT", b"ETHUSDT"} <= set(symbols)
            return
        await asyncio.sleep(0.25)


async def test_producer_survives_a_node_restart(
    redis_cluster: LocalRedisCluster, cluster_redis: aredis.Redis, streams: Streams
) -> None:
    """A node dies: the write raises a transient error and keeps its records; once the node is
    back (same port and nodes.conf, empty: no persistence) the same producer delivers them,
    every record at least once, and in order on each shard."""
    cluster = await cluster_of(cluster_redis)
    shards = [renamed(streams.raw, n) for n in spread(cluster, streams.raw.name)]
    victim = cluster.get_node_from_key(shards[0].name)
    assert victim is not None
    port = int(victim.port)
    producer = StreamProducer(cluster_redis)
    for i, shard in enumerate(shards * 2):
        producer.publish(shard, f.trade(trade_id=f"r{i}"))
    redis_cluster.kill_node(port)
    try:
        with pytest.raises(TRANSIENT_REDIS_ERRORS):
            await producer.flush()
        assert producer.pending == 6 and producer.sent == 0
    finally:
        redis_cluster.start_node(port)
        await asyncio.to_thread(redis_cluster.wait_ready)
    for _ in range(20):  # the producer's loop retries with backoff; this is that loop
        try:
            await producer.flush()
            break
        except TRANSIENT_REDIS_ERRORS:
            await asyncio.sleep(0.25)
    assert producer.pending == 0
    for i, shard in enumerate(shards):
        rows: Any = await cluster_redis.xrange(shard.name)
        got = [shard.schema.decode(fields).trade_id for _, fields in rows]
        want = [f"r{i}", f"r{i + 3}"]
        assert got == want or got == want * 2  # written again in full after the failed write


def test_validation_scripts_read_a_cluster(
    redis_cluster: LocalRedisCluster,
    stub_api: str,  # noqa: F811 - the fixture imported above
    stream_prefix: str,
) -> None:
    """Both validation scripts against a cluster (redis-cli -c follows the redirects): the
    sharded data of test_validation_sharded, its two shards on two nodes, passes all 16."""
    require_tools("redis-cli", "curl")
    with SyncRedisCluster.from_url(redis_cluster.url) as client:
        shards = [f"{stream_prefix}exchange.raw:{{{i}}}" for i in (0, 1)]
        assert len({client.get_node_from_key(k).name for k in shards}) == 2
        fill_shards(client, stream_prefix)
    outputs = [run(script, redis_cluster.url, stub_api, stream_prefix, "2")
               for script in ("validate_phase4m.sh", "validate_phase4m_plus.sh")]  # fmt: skip
    for out in outputs:
        assert out.startswith("rc=0") and out.count(" PASS ") == 8, out
    assert line(outputs[0], 2).endswith("PASS (length 120)")
    assert line(outputs[1], 1).endswith("PASS (type stream on 2/2 shards)")
