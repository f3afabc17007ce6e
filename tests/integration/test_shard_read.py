"""common/shard_read.py on fakeredis and a real redis-server: entries spread over the shards of
a stream come back merged by id (newest first), lengths and consumer-group counters summed;
with one shard every read is the plain command on the plain name."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aredis

from microservices.common import shard_read
from microservices.common.streams import Stream, build_streams

pytestmark = pytest.mark.integration


async def spread(redis: aredis.Redis, stream: Stream[Any], count: int) -> list[bytes]:
    """`count` entries, entry n in shard n*n % shards (uneven), with ids one millisecond apart
    (within one millisecond, entries of different shards have no order); ids oldest first."""
    ids: list[bytes] = []
    for n in range(count):
        name = stream.shard((n * n) % stream.shards).name
        added: Any = await redis.xadd(name, {"n": str(n)}, id=f"{1_000 + n}-0")
        ids.append(added)
    return ids


async def test_walk_merges_every_shard_newest_first(any_redis: aredis.Redis) -> None:
    stream = build_streams("t:", shards=4).normalized
    ids = await spread(any_redis, stream, 23)
    batches = [batch async for batch in shard_read.walk_newest(any_redis, stream, page=2)]
    assert [len(batch) for batch in batches] == [2] * 11 + [1]
    walked = [entry for batch in batches for entry in batch]
    assert [entry_id for _, entry_id, _ in walked] == ids[::-1]
    assert {name for name, _, _ in walked} == {stream.shard(i).name for i in (0, 1)}  # n*n % 4
    assert [int(fields[b"n"]) for _, _, fields in walked] == list(range(22, -1, -1))
    newest = await shard_read.newest(any_redis, stream, 5)
    assert [entry_id for _, entry_id, _ in newest] == ids[::-1][:5]
    assert (await shard_read.newest_entry(any_redis, stream) or ("", b"", {}))[1] == ids[-1]
    assert await shard_read.total_length(any_redis, stream) == 23
    assert await shard_read.lengths(any_redis, stream) == {
        stream.shard(0).name: 12, stream.shard(1).name: 11,
        stream.shard(2).name: 0, stream.shard(3).name: 0,
    }  # fmt: skip
    assert await shard_read.oldest_ms(any_redis, stream) == shard_read.id_ms(ids[0])
    assert await shard_read.oldest_ms(any_redis, stream.shard(1)) == shard_read.id_ms(ids[1])
    assert await shard_read.exists_any(any_redis, stream)
    assert not await shard_read.exists_any(any_redis, build_streams("t:", shards=4).features)


async def test_one_shard_reads_the_plain_name(any_redis: aredis.Redis) -> None:
    stream = build_streams("one:").normalized
    assert shard_read.keys(stream) == ["one:exchange.normalized"]
    ids = [await any_redis.xadd("one:exchange.normalized", {"n": str(n)}) for n in range(5)]
    walked = [e async for batch in shard_read.walk_newest(any_redis, stream, 500) for e in batch]
    assert [(name, entry_id) for name, entry_id, _ in walked] == [
        ("one:exchange.normalized", i) for i in ids[::-1]
    ]
    assert await shard_read.total_length(any_redis, stream) == 5


async def test_walk_symbol_reads_only_its_shard(any_redis: aredis.Redis) -> None:
    stream = build_streams("w:", shards=4).normalized
    home = stream.shard_for("BTCUSDT").name
    other = next(name for name in stream.names() if name != home)
    for n in range(7):
        await any_redis.xadd(home, {"symbol": "BTCUSDT" if n % 3 == 0 else "XUSDT", "n": str(n)})
    await any_redis.xadd(other, {"symbol": "BTCUSDT", "n": "stray"})
    found = [f[b"n"] async for _, f in shard_read.walk_symbol(any_redis, stream, "BTCUSDT", 2, 100)]
    assert found == [b"6", b"3", b"0"]
    within = [f[b"n"] async for _, f in shard_read.walk_symbol(any_redis, stream, "BTCUSDT", 2, 3)]
    assert within == [b"6"]  # the budget: the newest 3 entries of the shard


async def test_group_counters_are_summed_over_shards(real_redis: aredis.Redis) -> None:
    stream = build_streams("g:", shards=3).raw
    for i, count in enumerate((4, 0, 2)):
        for n in range(count):
            await real_redis.xadd(stream.shard(i).name, {"n": str(n)})
    for i in (0, 2):
        await real_redis.xgroup_create(stream.shard(i).name, "aggregator", id="0", entries_read=0)
    counters = await shard_read.group_counters(real_redis, stream)
    assert counters["aggregator"]["lag"] == 6 and counters["aggregator"]["pending"] == 0
    assert set(counters["aggregator"]["shards"]) == {stream.shard(0).name, stream.shard(2).name}
    assert await shard_read.group_lag(real_redis, stream, "aggregator") == 6
    assert await shard_read.group_lag(real_redis, stream, "absent") is None


def test_pure_merges() -> None:
    per_shard: dict[str, list[Any]] = {
        "a": [(b"5-0", {}), (b"1-0", {})], "b": [(b"5-1", {}), (b"3-0", {})], "c": [],
    }  # fmt: skip
    assert [(n, i) for n, i, _ in shard_read.merge_newest(per_shard, 3)] == [
        ("b", b"5-1"), ("a", b"5-0"), ("b", b"3-0"),
    ]  # fmt: skip
    summed = shard_read.sum_group_counters(
        {"s0": {"g": {"pending": 1, "lag": 2}}, "s1": {"g": {"pending": 3, "lag": None}}}
    )
    assert summed["g"]["pending"] == 4 and summed["g"]["lag"] is None
    single = shard_read.sum_group_counters({"s": {"g": {"pending": 1, "lag": 2}}})
    assert single == {"g": {"pending": 1, "lag": 2}}  # one stream: the shape /health had
