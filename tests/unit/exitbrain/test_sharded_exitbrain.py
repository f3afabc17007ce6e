"""ExitBrain with STREAM_SHARDS=2 (fakeredis): an engine refreshes only the symbols whose home
shard it owns, reads each symbol's snapshot from its home shard of exchange.normalized and
writes its status into the same shard of exitbrain.status; its warm-up probe looks at the
owned shards only."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aredis

from microservices.ai_engine.engine import Engine
from microservices.ai_engine.exitbrain_loop import owned_only, run_exitbrain_loop
from microservices.common.clock import now_ms
from microservices.common.producer import StreamProducer
from microservices.common.sharding import shard_of
from tests.reliability.helpers import eventually
from tests.unit.exitbrain.helpers import snapshot

# home shards of 2: BTCUSDT 1, ADAUSDT 1, ETHUSDT 0
SYMBOLS = ["BTCUSDT", "ETHUSDT", "ADAUSDT"]


async def statuses(redis: aredis.Redis, name: str) -> list[tuple[str, bool]]:
    rows: Any = await redis.xrange(name)
    return [(f[b"symbol"].decode(), f[b"cross_exchange_active"] == b"true") for _, f in rows]


async def run_one_round(engine: Engine, expected: int, name: str) -> None:
    stop = asyncio.Event()
    symbols = owned_only(SYMBOLS, engine.exitbrain_role.owns)
    loop = asyncio.create_task(run_exitbrain_loop(engine.adapter, symbols, 60.0, stop))

    async def written() -> bool:
        return len(await statuses(engine.redis, name)) >= expected

    try:
        await eventually(written, 10, f"{expected} status entries in {name}")
    finally:
        stop.set()
        await asyncio.wait_for(loop, 5)


async def test_each_engine_refreshes_and_writes_its_home_shards(
    settings_factory: Any, fake_redis: aredis.Redis
) -> None:
    assert [shard_of(s, 2) for s in SYMBOLS] == [1, 0, 1]
    settings = settings_factory(stream_shards=2, owned_shards="1")
    streams = settings.streams()
    high = Engine(settings, fake_redis, with_aggregator=False, notify=False)
    low = Engine(settings.model_copy(update={"owned_shards": "0"}), fake_redis,
                 with_aggregator=False, notify=False)  # fmt: skip
    assert (high.exitbrain_role.owned, low.exitbrain_role.owned) == ({1: 0}, {0: 0})
    producer = StreamProducer(fake_redis)
    producer.publish(streams.normalized, snapshot("ETHUSDT", now_ms()))
    await producer.flush()
    assert await high._fresh_normalized() is False  # shard 0's data is not its own
    assert await low._fresh_normalized() is True
    for symbol in ("BTCUSDT", "ADAUSDT"):
        producer.publish(streams.normalized, snapshot(symbol, now_ms()))
    await producer.flush()
    assert await high._fresh_normalized() is True

    status = streams.status
    await run_one_round(high, 2, status.shard(1).name)
    await run_one_round(low, 1, status.shard(0).name)
    # each symbol's status in its home shard, read from its home shard (cross-exchange on)
    assert await statuses(fake_redis, status.shard(1).name) == [
        ("BTCUSDT", True), ("ADAUSDT", True),
    ]  # fmt: skip
    assert await statuses(fake_redis, status.shard(0).name) == [("ETHUSDT", True)]
    assert await fake_redis.exists(status.base, streams.alerts.base) == 0
