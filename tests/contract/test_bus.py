"""Producer and consumer contract, run on fakeredis and on a real redis-server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aredis

from microservices.common.consumer import StreamConsumer, consumer_lag
from microservices.common.producer import StreamProducer
from microservices.common.streams import Streams, build_streams
from tests import factories as f


class Collector:
    def __init__(self) -> None:
        self.items: list[tuple[str, Any]] = []
        self.calls = 0

    async def __call__(self, batch: list[tuple[str, Any]]) -> None:
        self.calls += 1
        self.items.extend(batch)


def consumer(redis: aredis.Redis, stream: Any, handler: Any, **kw: Any) -> StreamConsumer[Any]:
    kw.setdefault("group", "test-group")
    return StreamConsumer(redis, stream, handler, **kw)


async def test_every_stream_round_trips_through_producer_and_consumer(
    any_redis: aredis.Redis, streams: Streams
) -> None:
    producer = StreamProducer(any_redis, batch_size=4)
    samples = {
        streams.raw: f.raw_samples(),
        streams.normalized: [f.snapshot(), f.snapshot(symbol="ETHUSDT", excluded={})],
        streams.features: [f.features(), f.features("SOLUSDT")],
        streams.status: [f.status(), f.status(cross_exchange_active=False, fail_count=2)],
        streams.alerts: [f.alert(), f.alert(type="RECOVERED", reason="Fresh data (2.1s)")],
    }
    for stream, records in samples.items():
        for record in records:
            producer.publish(stream, record)
    assert await producer.flush() == sum(len(r) for r in samples.values())
    for stream, records in samples.items():
        got = Collector()
        await consumer(any_redis, stream, got).run_until_idle()
        assert [record for _, record in got.items] == records
        assert await any_redis.xlen(stream.name) == len(records)


async def test_batches_preserve_order(any_redis: aredis.Redis, streams: Streams) -> None:
    producer = StreamProducer(any_redis, batch_size=100)
    for i in range(1234):
        producer.publish(streams.raw, f.trade(trade_id=str(i)))
    assert await producer.flush() == 1234
    assert producer.sent == 1234 and producer.pending == 0
    got = Collector()
    handled = await consumer(any_redis, streams.raw, got, batch_size=500).run_until_idle()
    assert handled == 1234
    assert [r.trade_id for _, r in got.items] == [str(i) for i in range(1234)]
    assert got.calls == 3  # 500 + 500 + 234


async def test_maxlen_trims_approximately(any_redis: aredis.Redis, stream_prefix: str) -> None:
    streams = build_streams(stream_prefix, {"exchange.raw": 100})
    producer = StreamProducer(any_redis, batch_size=50)
    for i in range(1000):
        producer.publish(streams.raw, f.trade(trade_id=str(i)))
    await producer.flush()
    length = await any_redis.xlen(streams.raw.name)
    assert 100 <= length <= 300
    newest = await any_redis.xrevrange(streams.raw.name, count=1)
    assert newest[0][1][b"trade_id"] == b"999"


async def test_undecodable_entries_go_to_dead_letter(
    any_redis: aredis.Redis, streams: Streams
) -> None:
    producer = StreamProducer(any_redis)
    producer.publish(streams.raw, f.trade(trade_id="1"))
    await producer.flush()
    await any_redis.xadd(streams.raw.name, {"type": "trade", "price": "NaN"})
    producer.publish(streams.raw, f.trade(trade_id="2"))
    await producer.flush()
    got = Collector()
    reader = consumer(any_redis, streams.raw, got)
    assert await reader.run_until_idle() == 3
    assert [r.trade_id for _, r in got.items] == ["1", "2"]
    assert reader.dead_lettered == 1
    dead = await any_redis.xrange(streams.raw.dead_letter)
    assert len(dead) == 1
    assert dead[0][1][b"price"] == b"NaN"
    assert b"missing required field" in dead[0][1][b"dead_error"]
    pending = await any_redis.xpending(streams.raw.name, "test-group")
    assert pending["pending"] == 0


async def test_restart_drains_own_pending_entries(
    any_redis: aredis.Redis, streams: Streams
) -> None:
    producer = StreamProducer(any_redis)
    for i in range(5):
        producer.publish(streams.raw, f.trade(trade_id=str(i)))
    await producer.flush()
    first = consumer(any_redis, streams.raw, Collector(), consumer="agg-1")
    await first.ensure_group()
    # A crash after reading and before XACK: the entries sit in agg-1's pending list.
    await any_redis.xreadgroup("test-group", "agg-1", {streams.raw.name: ">"}, count=3)
    got = Collector()
    restarted = consumer(any_redis, streams.raw, got, consumer="agg-1")
    assert await restarted.run_until_idle() == 5
    assert sorted(r.trade_id for _, r in got.items) == ["0", "1", "2", "3", "4"]
    assert (await any_redis.xpending(streams.raw.name, "test-group"))["pending"] == 0


async def test_entries_of_a_dead_consumer_are_reclaimed(
    any_redis: aredis.Redis, streams: Streams
) -> None:
    producer = StreamProducer(any_redis)
    for i in range(4):
        producer.publish(streams.raw, f.trade(trade_id=str(i)))
    await producer.flush()
    await consumer(any_redis, streams.raw, Collector()).ensure_group()
    await any_redis.xreadgroup("test-group", "dead-worker", {streams.raw.name: ">"}, count=4)
    got = Collector()
    survivor = consumer(any_redis, streams.raw, got, consumer="survivor", claim_idle_ms=0)
    assert await survivor.run_until_idle() == 4
    assert [r.trade_id for _, r in got.items] == ["0", "1", "2", "3"]
    assert (await any_redis.xpending(streams.raw.name, "test-group"))["pending"] == 0


async def test_failing_handler_leaves_entries_pending_then_dead_letters_poison(
    any_redis: aredis.Redis, streams: Streams
) -> None:
    producer = StreamProducer(any_redis)
    producer.publish(streams.raw, f.trade(trade_id="boom"))
    await producer.flush()

    async def broken(batch: list[tuple[str, Any]]) -> None:
        raise RuntimeError("handler bug")

    reader = consumer(any_redis, streams.raw, broken, claim_idle_ms=0, max_deliveries=2)
    await reader.run_until_idle()
    assert (await any_redis.xpending(streams.raw.name, "test-group"))["pending"] == 1
    for _ in range(3):
        await reader.reclaim()
    assert reader.dead_lettered == 1
    assert (await any_redis.xpending(streams.raw.name, "test-group"))["pending"] == 0
    dead = await any_redis.xrange(streams.raw.dead_letter)
    assert b"delivered more than 2 times" in dead[0][1][b"dead_error"]


async def test_blocking_run_loop_handles_and_stops(
    any_redis: aredis.Redis, streams: Streams
) -> None:
    done = asyncio.Event()
    got: list[str] = []

    async def handler(batch: list[tuple[str, Any]]) -> None:
        got.extend(r.trade_id for _, r in batch)
        if len(got) >= 10:
            done.set()

    stop = asyncio.Event()
    reader = consumer(any_redis, streams.raw, handler, block_ms=200)
    task = asyncio.create_task(reader.run(stop))
    producer = StreamProducer(any_redis, batch_size=3, flush_interval_ms=1)
    writer = asyncio.create_task(producer.run(stop))
    for i in range(10):
        producer.publish(streams.raw, f.trade(trade_id=str(i)))
    await asyncio.wait_for(done.wait(), timeout=20)
    stop.set()
    await asyncio.wait_for(asyncio.gather(task, writer), timeout=10)
    assert got == [str(i) for i in range(10)]


async def test_stop_ends_a_blocked_read_and_nothing_is_lost(
    real_redis: aredis.Redis, streams: Streams
) -> None:
    """A consumer blocked in XREADGROUP (60 s here) stops when told instead of waiting its
    block out; an entry that arrives later is handled by the next run (at least once)."""
    handler = Collector()
    reader = consumer(real_redis, streams.raw, handler, block_ms=60_000)
    await reader.ensure_group()
    stop = asyncio.Event()
    task = asyncio.create_task(reader.run(stop))

    async def blocked() -> None:
        while b"cmd=xreadgroup" not in await real_redis.execute_command("CLIENT", "LIST"):
            await asyncio.sleep(0.01)

    await asyncio.wait_for(blocked(), timeout=10)
    stop.set()
    await asyncio.wait_for(task, timeout=10)  # a test deadline far below the 60 s block
    assert task.done() and handler.items == []
    producer = StreamProducer(real_redis)
    producer.publish(streams.raw, f.trade(trade_id="after-stop"))
    await producer.flush()
    await consumer(real_redis, streams.raw, handler).run_until_idle()
    assert [r.trade_id for _, r in handler.items] == ["after-stop"]


async def test_consumer_lag_on_real_redis(real_redis: aredis.Redis, streams: Streams) -> None:
    producer = StreamProducer(real_redis)
    for i in range(7):
        producer.publish(streams.raw, f.trade(trade_id=str(i)))
    await producer.flush()
    reader = consumer(real_redis, streams.raw, Collector(), batch_size=5)
    await reader.ensure_group()
    assert await consumer_lag(real_redis, streams.raw, "test-group") == 7
    await reader.step(block=False)
    assert await consumer_lag(real_redis, streams.raw, "test-group") == 2
    assert await consumer_lag(real_redis, streams.raw, "no-such-group") is None


@pytest.mark.parametrize("bad", [b"\xff\xfe", b""])
async def test_bad_bytes_in_fields_are_dead_lettered(
    any_redis: aredis.Redis, streams: Streams, bad: bytes
) -> None:
    await any_redis.xadd(streams.raw.name, {b"type": b"trade", b"symbol": bad})
    reader = consumer(any_redis, streams.raw, Collector())
    await reader.run_until_idle()
    assert reader.dead_lettered == 1
