"""Readiness (/health) and liveness (/health/live, the container healthcheck) over real HTTP.

/health is readiness: 503 whenever its status is `down`. /health/live answers 200 while the
process serves, and `python -m microservices.healthcheck` (what the containers run) checks only
liveness, so neither an exchange outage nor a Redis outage fails it (SPEC section 7).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from microservices.ai_engine.engine import Engine
from microservices.common.redis_io import create_redis
from microservices.common.redis_server import free_port
from microservices.common.settings import Settings
from microservices.data_collector.service import Collector

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


async def wait_for(predicate: Any, timeout_s: float = 20.0) -> Any:
    async def poll() -> Any:
        while True:
            value = await predicate()
            if value:
                return value
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(poll(), timeout=timeout_s)


async def healthcheck(**env: str) -> int:
    """Exit status of the container healthcheck, run as the containers run it."""
    unset = ("SERVICE_ROLE", "API_PORT", "REDIS_URL", "COLLECTOR_LIVE_FILE", "STREAM_PREFIX")
    full_env = {k: v for k, v in os.environ.items() if k not in unset} | env
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "microservices.healthcheck", cwd=REPO, env=full_env
    )
    return await asyncio.wait_for(proc.wait(), timeout=30)


async def _answers(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/health/live")).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
async def serving(settings_factory: Any, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The engine's HTTP API on a free port, its Redis at `redis_url`, no collector running."""
    settings: Settings = settings_factory(redis_url=redis_url, api_port=free_port())
    redis = create_redis(redis_url, socket_timeout_s=1.0)
    stop = asyncio.Event()
    task = asyncio.create_task(Engine(settings, redis)._serve(stop))
    base = f"http://127.0.0.1:{settings.api_port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            await wait_for(lambda: _answers(client))
            yield client
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        await redis.aclose()


@pytest.fixture
def redis_url(request: pytest.FixtureRequest) -> str:
    if request.param == "up":
        url: str = request.getfixturevalue("redis_server").url
        return url
    return f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there


@pytest.mark.parametrize("redis_url", ["up"], indirect=True)
async def test_health_is_503_when_down_and_liveness_stays_200(
    serving: httpx.AsyncClient,
) -> None:
    """Redis answers but no venue is connected and no data is fresh (an exchange outage with
    the collector silent): readiness is down with 503, liveness and the healthcheck pass."""
    response = await serving.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["redis"]["connected"] is True
    assert {v["state"] for v in body["venues"].values()} == {"unknown"}
    assert body["metrics"]["cross_exchange_intelligence"] is False
    live = await serving.get("/health/live")
    assert live.status_code == 200 and live.json() == {"status": "alive"}
    port = str(serving.base_url.port)
    assert await healthcheck(SERVICE_ROLE="engine", API_PORT=port) == 0
    assert await healthcheck(SERVICE_ROLE="engine", API_PORT=str(free_port())) == 1


@pytest.mark.parametrize("redis_url", ["down"], indirect=True)
async def test_liveness_passes_while_redis_is_unreachable(serving: httpx.AsyncClient) -> None:
    assert (await serving.get("/health")).status_code == 503
    assert (await serving.get("/health/live")).status_code == 200
    port = str(serving.base_url.port)
    assert await healthcheck(SERVICE_ROLE="engine", API_PORT=port) == 0


async def test_collector_liveness_survives_exchange_and_redis_outages(
    settings_factory: Any, tmp_path: Path
) -> None:
    """The collector touches COLLECTOR_LIVE_FILE every second whatever its venues and Redis
    do; the healthcheck passes on a fresh file and fails on a stale or missing one."""
    live_file = tmp_path / "collector.live"
    dead = f"127.0.0.1:{free_port()}"  # nothing listens: both the exchange and Redis are down
    settings: Settings = settings_factory(
        redis_url=f"redis://{dead}/0", venues="binance", binance_ws_url=f"ws://{dead}",
        rest_enabled=False, collector_live_file=str(live_file),
    )  # fmt: skip
    env = {"SERVICE_ROLE": "collector", "REDIS_URL": settings.redis_url or "",
           "COLLECTOR_LIVE_FILE": str(live_file)}  # fmt: skip
    redis = create_redis(settings.redis_url or "", socket_timeout_s=1.0)
    stop = asyncio.Event()
    task = asyncio.create_task(Collector(settings, redis, rest=False).run(stop))
    try:
        first = await wait_for(lambda: _stat(live_file))
        await wait_for(lambda: _newer(live_file, first))  # rewritten, not just created
        assert await healthcheck(**env) == 0
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=20)
        await redis.aclose()
    stale = time.time() - 60
    os.utime(live_file, (stale, stale))
    assert await healthcheck(**env) == 1
    assert await healthcheck(**(env | {"COLLECTOR_LIVE_FILE": str(tmp_path / "missing")})) == 1


def _mtime_ns(path: Path) -> int | None:
    return path.stat().st_mtime_ns if path.exists() else None


async def _stat(path: Path) -> int | None:
    return await asyncio.to_thread(_mtime_ns, path)


async def _newer(path: Path, than: int) -> bool:
    mtime = await asyncio.to_thread(_mtime_ns, path)
    return mtime is not None and mtime > than
