"""The runner's polled venues: CME enabled with the file source polls the sample CSV into a
real Redis, then stops with `stop`; disabled, nothing runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis.asyncio as aredis

from microservices.common.redis_server import LocalRedis
from microservices.common.settings import Settings
from microservices.data_collector.polled import enabled_services, run_polled_venues

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "exchanges" / "cme"
SAMPLE = SAMPLE / "settlements_sample.csv"


async def test_enabled_cme_polls_its_file_until_stopped(
    real_redis: aredis.Redis, redis_server: LocalRedis, settings_factory: Callable[..., Settings]
) -> None:
    assert enabled_services(settings_factory()) == {}
    settings = settings_factory(
        redis_url=redis_server.url, cme_enabled=True, cme_source="file", cme_file=str(SAMPLE),
        cme_reference_venues="", cme_lookback_days=30,
    )  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(run_polled_venues(settings, stop))
    raw = settings.streams().raw.name
    for _ in range(200):
        if await real_redis.xlen(raw) >= 20:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    rows: Any = await real_redis.xrange(raw)
    types = {fields[b"type"] for _, fields in rows}
    assert len(rows) == 20 and types == {b"settlement"}
