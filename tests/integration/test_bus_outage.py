"""A real redis-server is killed mid-stream: the producer buffers, reconnects and delivers.

The server runs with AOF `appendfsync always` so what was written before the crash survives
the restart; the producer's buffer holds 1000 records, so of the 1500 published during the
outage the newest 1000 are delivered and the drop counter says 500.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from microservices.common.backoff import Backoff
from microservices.common.consumer import StreamConsumer
from microservices.common.producer import StreamProducer
from microservices.common.redis_io import create_redis
from microservices.common.redis_server import LocalRedis
from microservices.common.streams import build_streams
from tests import factories as f

pytestmark = pytest.mark.integration


async def wait_until(predicate: Any, timeout_s: float = 30.0) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout=timeout_s)


async def test_producer_survives_redis_crash_and_consumer_resumes(
    tmp_path: Path, local_redis: Callable[..., LocalRedis]
) -> None:
    server = local_redis(data_dir=tmp_path, appendonly=True)
    streams = build_streams("outage:")
    client = create_redis(server.url, socket_timeout_s=2.0)
    producer = StreamProducer(
        client, batch_size=100, flush_interval_ms=2, buffer_size=1000,
        backoff=Backoff(base_s=0.05, cap_s=0.2),
    )  # fmt: skip
    seen: list[str] = []

    async def handler(batch: list[tuple[str, Any]]) -> None:
        seen.extend(r.trade_id for _, r in batch)

    reader_client = create_redis(server.url, socket_timeout_s=2.0)
    reader = StreamConsumer(
        reader_client, streams.raw, handler, block_ms=200,
        backoff=Backoff(base_s=0.05, cap_s=0.2),
    )  # fmt: skip
    stop = asyncio.Event()
    tasks = [asyncio.create_task(producer.run(stop)), asyncio.create_task(reader.run(stop))]
    try:
        for i in range(300):
            producer.publish(streams.raw, f.trade(trade_id=str(i)))
        await wait_until(lambda: producer.sent == 300 and len(seen) == 300)

        server.kill()
        for i in range(300, 1800):
            producer.publish(streams.raw, f.trade(trade_id=str(i)))
        await wait_until(lambda: producer.failures > 0)
        assert producer.dropped == 500 and producer.pending == 1000

        server.start()
        await wait_until(lambda: producer.pending == 0 and len(set(seen)) == 1300)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=15)
        await client.aclose()
        await reader_client.aclose()

    try:
        check = create_redis(server.url)
        assert await check.xlen(streams.raw.name) == 1300
        ids = [e[1][b"trade_id"].decode() for e in await check.xrange(streams.raw.name)]
        assert ids == [str(i) for i in range(300)] + [str(i) for i in range(800, 1800)]
        assert producer.dropped == 500
        assert set(seen) == set(ids)  # every delivered entry reached the consumer
        assert (await check.xpending(streams.raw.name, "aggregator"))["pending"] == 0
        await check.aclose()
    finally:
        server.stop()
