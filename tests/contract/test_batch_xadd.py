"""The producer's batch-XADD write path on fakeredis and on a real redis-server."""

from __future__ import annotations

import pytest
import redis.asyncio as aredis
from redis.exceptions import ResponseError

from microservices.common.producer import StreamProducer
from microservices.common.streams import Streams
from tests import factories as f


async def test_entries_equal_plain_xadd_entries(any_redis: aredis.Redis, streams: Streams) -> None:
    records = f.raw_samples()
    producer = StreamProducer(any_redis)
    for record in records:
        producer.publish(streams.raw, record)
    assert await producer.flush() == len(records)
    for record in records:
        await any_redis.xadd("plain:" + streams.raw.name, streams.raw.schema.encode(record))
    ours = await any_redis.xrange(streams.raw.name)
    plain = await any_redis.xrange("plain:" + streams.raw.name)
    assert [list(e[1].items()) for e in ours] == [list(e[1].items()) for e in plain]


async def test_empty_script_cache_is_reloaded(any_redis: aredis.Redis, streams: Streams) -> None:
    producer = StreamProducer(any_redis)
    producer.publish(streams.raw, f.trade(trade_id="1"))
    await producer.flush()
    await any_redis.script_flush()  # what a restarted server looks like
    producer.publish(streams.raw, f.trade(trade_id="2"))
    producer.publish(streams.normalized, f.snapshot())
    assert await producer.flush() == 2
    assert await any_redis.xlen(streams.raw.name) == 2  # written once, not twice
    assert await any_redis.xlen(streams.normalized.name) == 1


async def test_an_error_reply_raises_and_keeps_the_batch(
    any_redis: aredis.Redis, streams: Streams
) -> None:
    await any_redis.set(streams.raw.name, "not a stream")
    producer = StreamProducer(any_redis)
    producer.publish(streams.normalized, f.snapshot())
    producer.publish(streams.raw, f.trade())
    with pytest.raises(ResponseError):
        await producer.flush()
    assert producer.pending == 2 and producer.sent == 0
    await any_redis.delete(streams.raw.name)
    assert await producer.flush() == 2  # the connection is still usable after the error
    assert await any_redis.xlen(streams.raw.name) == 1
