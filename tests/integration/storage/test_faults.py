"""Faults: the writer SIGKILLed mid-batch, PostgreSQL stopped for 30 s under load. Nothing is
lost (every entry's row is in the table, once) and nothing is duplicated."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aredis

from microservices.common.records import Funding
from microservices.common.redis_server import LocalRedis
from microservices.common.schemas import RAW
from microservices.storage.pg_server import LocalPostgres
from microservices.storage.service import StoreService
from microservices.storage.writer import GROUP
from tests.factories import T0, header
from tests.integration.storage.helpers import count

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def funding(i: int) -> Funding:
    return Funding(**header(exchange="bybit", market="perp", ts_ms=T0 + i),
                   funding_rate=0.0001, funding_interval_h=8.0)  # fmt: skip


async def fill(
    redis: aredis.Redis, name: str, start: int, n: int, maxlen: int | None = None
) -> None:
    """Add funding records start..start+n-1 (exact MAXLEN trimming when given)."""
    pipe = redis.pipeline(transaction=False)
    for i in range(start, start + n):
        pipe.xadd(name, RAW.encode(funding(i)), maxlen=maxlen, approximate=False)  # type: ignore[arg-type]
    await pipe.execute()


async def settled(redis: aredis.Redis, name: str) -> bool:
    """The group has read the newest entry and acknowledged everything (not `lag`: Redis 7.0
    keeps counting a trimmed gap in it)."""
    groups: Any = await redis.xinfo_groups(name)
    info: Any = await redis.xinfo_stream(name)
    mine = [g for g in groups if g["name"] in (GROUP, GROUP.encode())]
    return (
        bool(mine) and mine[0]["pending"] == 0
        and mine[0]["last-delivered-id"] == info["last-generated-id"]
    )  # fmt: skip


async def wait_for(check: Callable[[], Any], timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        while not await check():
            await asyncio.sleep(0.05)


def start_writer(redis_url: str, db_url: str, prefix: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, REDIS_URL=redis_url, DATABASE_URL=db_url, STREAM_PREFIX=prefix,
               STORE_BATCH_SIZE="500", STORE_BLOCK_MS="100", LOG_LEVEL="WARNING",
               STORE_ORDERBOOK_INTERVAL_S="3600")  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "microservices.cli", "--env-file", "/dev/null", "store"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


async def test_writer_killed_mid_batch_loses_and_duplicates_nothing(
    redis_server: LocalRedis, real_redis: aredis.Redis, pg_url: str, stream_prefix: str
) -> None:
    raw = f"{stream_prefix}exchange.raw"
    total = 40_000
    await fill(real_redis, raw, 0, total)
    writer = start_writer(redis_server.url, pg_url, stream_prefix)
    try:
        # kill while rows are arriving: some committed, most not yet
        await wait_for(lambda: _between(pg_url, 1, total // 2), timeout_s=60)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
        stored_at_kill = await count(pg_url, "funding_rates")
        assert 0 < stored_at_kill < total
        await fill(real_redis, raw, total, 1_000)  # the stream keeps growing meanwhile
        writer = start_writer(redis_server.url, pg_url, stream_prefix)
        await wait_for(lambda: settled(real_redis, raw), timeout_s=90)
    finally:
        writer.kill()
        writer.wait(timeout=10)
    assert await count(pg_url, "funding_rates") == total + 1_000


async def _between(url: str, low: int, high: int) -> bool:
    return low <= await count(url, "funding_rates") <= high


MAXLEN = 2_000  # the stream holds 10 s at the test's 200 entries/s: far less than the outage


async def test_postgres_down_30s_under_load_loses_nothing(
    real_redis: aredis.Redis,
    local_postgres: Callable[..., LocalPostgres],
    settings_factory: Any,
    tmp_path: Path,
) -> None:
    pg = local_postgres()
    settings = settings_factory(
        store_block_ms=100, store_backoff_cap_s=2.0, store_orderbook_interval_s=3600,
        store_spill_dir=str(tmp_path / "spill"), store_spill_after_s=2.0,
    )  # fmt: skip
    raw = settings.streams().raw.name
    service = StoreService(settings, real_redis, pg.url)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    produced = 0

    async def produce(seconds: float, rate: int = 200) -> None:
        nonlocal produced
        for _ in range(int(seconds * 10)):
            await fill(real_redis, raw, produced, rate // 10, maxlen=MAXLEN)
            produced += rate // 10
            await asyncio.sleep(0.1)

    try:
        await produce(2)
        await wait_for(lambda: settled(real_redis, raw), timeout_s=20)
        pg.stop()
        await produce(1)
        # the first seconds of the outage: nothing acknowledged without a commit
        assert service.status.state == "database_down"
        assert not await settled(real_redis, raw)
        await produce(29)  # 6,000 entries in all while the database is down
        assert service.status.spilled_rows > 0  # past STORE_SPILL_AFTER_S: spilled, fsynced
        assert service.status.spill_files > 0
        pg.start()
        await produce(2)
        await wait_for(lambda: settled(real_redis, raw), timeout_s=60)
        assert await _state(service, "ok")
        # the stream is settled (spilled entries were acknowledged once fsynced); the spill
        # queue drains into the database in the background, oldest file first
        await wait_for(lambda: _between(pg.url, produced, produced), timeout_s=60)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    assert await count(pg.url, "funding_rates") == produced
    assert service.status.lost == {}
    assert list((tmp_path / "spill").iterdir()) == []  # drained into the database


async def test_trimmed_entries_are_counted_as_lost_without_spill(
    real_redis: aredis.Redis, local_postgres: Callable[..., LocalPostgres], settings_factory: Any
) -> None:
    pg = local_postgres()
    settings = settings_factory(store_block_ms=100, store_backoff_cap_s=0.5,
                                store_orderbook_interval_s=3600, store_spill_dir="")  # fmt: skip
    raw = settings.streams().raw.name
    service = StoreService(settings, real_redis, pg.url)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        await fill(real_redis, raw, 0, 100, maxlen=500)
        await wait_for(lambda: settled(real_redis, raw), timeout_s=20)
        pg.stop()
        await fill(real_redis, raw, 100, 100, maxlen=500)
        await wait_for(lambda: _state(service, "database_down"), timeout_s=10)
        await fill(real_redis, raw, 200, 2_800, maxlen=500)  # trims 2,500 entries
        pg.start()
        await wait_for(lambda: settled(real_redis, raw), timeout_s=30)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    stored = await count(pg.url, "funding_rates")
    lost = service.status.lost[raw]
    assert stored + lost == 3_000  # every entry is either stored or counted as lost
    assert stored >= 500  # the 100 before, what the stream still held after the outage
    # a restarted writer does not count the old gap again
    again = StoreService(settings, real_redis, pg.url)
    stop = asyncio.Event()
    task = asyncio.create_task(again.run(stop))
    await fill(real_redis, raw, 3_000, 10, maxlen=500)
    await wait_for(lambda: settled(real_redis, raw), timeout_s=20)
    stop.set()
    await asyncio.wait_for(task, timeout=30)
    assert again.status.lost == {} and await count(pg.url, "funding_rates") == stored + 10


async def _state(service: StoreService, state: str) -> bool:
    return service.status.state == state
