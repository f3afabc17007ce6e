"""The throw-away exchange package (tests/unit/platform/throwaway_exchange/), registered at run
time, is served by the simulator (WebSocket and REST) and collected into Redis by the
collector: no code outside the package names it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aredis

from microservices.common.settings import Settings
from microservices.data_collector import exchanges
from microservices.data_collector.service import Collector
from microservices.exchange_simulator.config import MarketConfig, SimulatorConfig
from microservices.exchange_simulator.replay import venue_of_url
from microservices.exchange_simulator.server import start_simulator
from microservices.runner import simulator_settings
from tests.unit.platform.throwaway_exchange import PACKAGE
from tests.unit.platform.throwaway_exchange.exchange import Throwaway

pytestmark = pytest.mark.integration


async def test_collector_collects_it_from_the_simulator(
    real_redis: aredis.Redis, redis_server: Any, settings_factory: Any
) -> None:
    with exchanges.registered(PACKAGE):
        config = SimulatorConfig(
            port=0, venues=("throwaway",), market=MarketConfig(symbols=("BTCUSDT",), rate=50.0)
        )
        settings: Settings = settings_factory(
            redis_url=redis_server.url, venues="throwaway", symbols="BTCUSDT", rest_enabled=False
        )
        async with start_simulator(config) as sim:
            wired = simulator_settings(settings, sim.base_url, sim.ws_base)
            assert wired.endpoint("throwaway", "ws") == f"{sim.ws_base}/throwaway"
            collector = Collector(wired, real_redis)
            stop = asyncio.Event()
            task = asyncio.create_task(collector.run(stop))
            try:
                record = await _first_record(real_redis, settings)
            finally:
                stop.set()
                await asyncio.wait_for(task, timeout=10)
            bars = await _rest_klines(sim.rest_url("throwaway"), wired)
            stats = sim.stats()["venues"]["throwaway"]
        assert venue_of_url(f"{sim.ws_base}/throwaway/feed") == "throwaway"
    assert "throwaway" not in exchanges.venue_ids()
    assert (record.exchange, record.type, record.symbol) == ("throwaway", "trade", "BTCUSDT")
    assert record.venue_symbol == "BTC_USDT" and record.price > 0
    assert bars and all(b.exchange == "throwaway" and b.closed for b in bars)
    assert stats["rest_total"] == 1 and stats["ws_opened"] >= 1


async def _first_record(redis: aredis.Redis, settings: Settings) -> Any:
    stream = settings.streams().raw
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows: Any = await redis.xrange(stream.name, count=1)
        if rows:
            return stream.schema.decode(rows[0][1])
        await asyncio.sleep(0.05)
    raise AssertionError("no record from the throwaway venue")


async def _rest_klines(base: str, settings: Settings) -> list[Any]:
    exchange = Throwaway(["BTCUSDT"], settings.endpoint("throwaway", "ws"), base)
    request = exchange.klines_request("BTCUSDT", 0, 1)
    url = exchange.rest_url + request.path
    async with aiohttp.ClientSession() as session, session.get(url, params=request.params) as resp:
        assert resp.status == 200
        payload = await resp.json()
    return exchange.parse_klines("BTCUSDT", payload, 0)
