"""The runner's polled venues: CME enabled with the file source polls the sample CSV into a
real Redis, then stops with `stop`; disabled, nothing runs; /health shows its state."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import redis.asyncio as aredis

from microservices.ai_engine.health import gather_health
from microservices.common.redis_server import LocalRedis
from microservices.common.settings import Settings
from microservices.data_collector.exchanges.cme.runtime import run
from microservices.data_collector.polled import enabled_services, run_polled_venues
from tests.fixture_paths import local_fixture

SAMPLE = local_fixture("exchanges/cme/settlements_sample.csv")


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


async def test_health_shows_the_polled_cme_state(
    real_redis: aredis.Redis, redis_server: LocalRedis, settings_factory: Callable[..., Settings]
) -> None:
    settings = settings_factory(
        redis_url=redis_server.url, cme_enabled=True, cme_source="file", cme_file=str(SAMPLE),
        cme_reference_venues="", cme_lookback_days=30,
    )  # fmt: skip
    await run(settings, once=True)
    _, body = await gather_health(real_redis, settings, {})
    cme = body["polled_venues"]["cme"]
    assert (cme["state"], cme["source"], cme["delayed"], cme["records"]) == (
        "polled",
        "file",
        True,
        20,
    )
    assert cme["last_trade_date"] == "2026-12-01"
    assert cme["fronts"] == {"BTC": "BTC-CME-2027F", "ETH": "ETH-CME-2026Z"}
    assert cme["days"]["ok"] == 5 and cme["rejected"]["expired"] == 1
    assert "cme" not in body["venues"]  # a polled venue is not a live one
