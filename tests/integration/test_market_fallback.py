"""Acceptance of issue 15's fallback: the collector and the engine (aggregator included) run
in-process against the exchange simulator on a real redis-server; the simulator silences the
venues one by one and `/api/v1/market/BTCUSDT` answers from the next venue of
MARKET_VENUE_ORDER each time, then, with every venue silent, serves the last good value
marked stale. `cross-exchange ask`'s route recomputes the same comparison."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import redis.asyncio as aredis

from microservices.ai_engine.engine import Engine
from microservices.common.settings import Settings
from microservices.data_collector.service import Collector
from microservices.exchange_simulator.config import MarketConfig, SimulatorConfig
from microservices.exchange_simulator.server import start_simulator
from microservices.runner import simulator_settings
from tests.reliability.helpers import eventually as poll_until

pytestmark = pytest.mark.integration
ORDER = ("bybit", "coinbase", "binance")


async def eventually(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """The suite's poller, every 50 ms, for at most 30 s."""
    return await poll_until(check, 30.0, what, every_s=0.05)


async def test_market_follows_the_order_as_venues_go_silent(
    real_redis: aredis.Redis, redis_server: Any, settings_factory: Any
) -> None:
    config = SimulatorConfig(port=0, venues=ORDER,
                             market=MarketConfig(symbols=("BTCUSDT",), seed=7, rate=20.0))  # fmt: skip
    settings: Settings = settings_factory(
        redis_url=redis_server.url, venues="binance,bybit,coinbase", symbols="BTCUSDT",
        market_venue_order=",".join(ORDER), rest_enabled=False, orderbook_enabled=False,
        aggregator_stale_after_s=1.0, aggregator_min_exchanges=1, ws_silence_timeout_s=300.0,
    )  # fmt: skip
    async with start_simulator(config) as sim:
        live = simulator_settings(settings, sim.base_url, sim.ws_base)
        collector, engine = Collector(live, real_redis), Engine(live, real_redis)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(collector.run(stop)),
                 asyncio.create_task(engine.run(stop, serve_http=False))]  # fmt: skip
        transport = httpx.ASGITransport(app=engine.app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:

                async def answer(venue: str, stale: bool = False) -> dict[str, Any] | None:
                    found = await client.get("/api/v1/market/BTCUSDT")
                    body: dict[str, Any] = found.json() if found.status_code == 200 else {}
                    ok = body.get("venue") == venue and body.get("stale") == stale
                    return body if ok else None

                first = await eventually(lambda: answer("bybit"), "bybit answering")
                assert first["order"] == list(ORDER)
                compare = (
                    await client.get("/api/v1/query", params={"q": "compare BTC across exchanges"})
                ).json()
                assert [row["venue"] for row in compare["answer"]["BTCUSDT"]] == list(ORDER)
                for silenced, next_venue in (("bybit", "coinbase"), ("coinbase", "binance")):
                    sim.set_faults(silenced, silence_after=0, silence_for_s=None)
                    body = await eventually(lambda v=next_venue: answer(v),  # type: ignore[misc]
                                            f"{next_venue} answering")  # fmt: skip
                    status = {row["venue"]: row["status"] for row in body["venues"]}
                    assert status[silenced] == "stale" and status[next_venue] == "ok"
                sim.set_faults("binance", silence_after=0, silence_for_s=None)
                stale = await eventually(lambda: answer("binance", stale=True), "stale value")
                assert stale["age_s"] > 1.0
                assert {row["status"] for row in stale["venues"]} == {"stale"}
                assert stale["price"] > 0  # the last price binance gave before it went silent
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=20)
