"""The product's Redis layer on a real 3-master Redis Cluster (issue 19, item 3).

Streams named with hash tags (`...:{0}`, `...:{1}`, ...) sit on known slots; the tests pick
tags whose slots are on different nodes and check the producer's batch write (with MOVED,
ASK, NOSCRIPT and a node restart), the consumer group loop (acks, dead letters) and the
multi-stream reader work there exactly as on one node. The services' own Redis uses:
test_redis_cluster_services.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
import redis.asyncio as aredis
from redis.asyncio.cluster import RedisCluster

from microservices.common import cluster_xadd
from microservices.common.consumer import StreamConsumer
from microservices.common.producer import StreamProducer
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS, is_cluster
from microservices.common.streams import Stream, Streams, build_streams
from microservices.common.xread import StreamReader, xread_multi
from tests import factories as f
from tests.integration.test_validation_sharded import (  # noqa: F401 - stub_api: a fixture
    fill_shards,
    line,
    run,
    stub_api,
)
from tests.redis_cluster import LocalRedisCluster

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
