"""The collector against the simulator: symbols resolved from the venues' listings, the
followed set published for /api/v1/symbols, and a change of the followed set applied to the
WebSocket subscriptions while running (added symbols flow, removed ones stop)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
import redis.asyncio as aredis

from microservices.ai_engine.engine import Engine
from microservices.common.redis_server import free_port
from microservices.common.settings import Settings
from microservices.common.symbol_selection import parse_symbols
from microservices.data_collector.service import Collector
from microservices.exchange_simulator.config import MarketConfig, SimulatorConfig
from microservices.exchange_simulator.server import start_simulator
from microservices.runner import simulator_settings

pytestmark = pytest.mark.integration
SIMULATED = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


async def groups(redis: aredis.Redis, settings: Settings) -> Counter[tuple[str, str]]:
    stream = settings.streams().raw
    rows: Any = await redis.xrange(stream.name)
    records = [stream.schema.decode(fields) for _, fields in rows]
    return Counter((r.exchange, r.group) for r in records)


async def until(check: Any, timeout_s: float = 30.0) -> Any:
    async def loop() -> Any:
        while not (result := await check()):
            await asyncio.sleep(0.1)
        return result

    return await asyncio.wait_for(loop(), timeout=timeout_s)


async def test_followed_symbols_change_while_running(
    real_redis: aredis.Redis, redis_server: Any, settings_factory: Any
) -> None:
    config = SimulatorConfig(port=0, market=MarketConfig(symbols=SIMULATED, rate=40.0))
    async with start_simulator(config) as sim:
        base: Settings = settings_factory(
            redis_url=redis_server.url, venues="binance,coinbase", symbols="btc-usd",
            rest_poll_interval_s=60.0, rest_history_dir="", api_port=free_port(),
        )  # fmt: skip
        settings = simulator_settings(base, sim.base_url, sim.ws_base)
        collector = Collector(settings, real_redis)
        stop = asyncio.Event()
        task = asyncio.create_task(collector.run(stop))
        try:
            await until(lambda: _has(real_redis, settings, {"BTCUSDT"}))
            await _check_api(settings, real_redis)

            collector.following.selection = parse_symbols("BTCUSDT,ETHUSDT")
            await collector.following.update(collector.pool.apply)
            await until(lambda: _has(real_redis, settings, {"ETHUSDT"}))
            assert {r.plan.symbols for r in collector.runners} == {("BTCUSDT", "ETHUSDT")}

            collector.following.selection = parse_symbols("ETHUSDT")
            await collector.following.update(collector.pool.apply)
            assert {r.plan.symbols for r in collector.runners} == {("ETHUSDT",)}
            await collector.producer.flush()
            btc_before = sum(n for (_, g), n in (await groups(real_redis, settings)).items()
                             if g == "BTCUSDT")  # fmt: skip
            eth_before = (await groups(real_redis, settings))[("coinbase", "ETHUSDT")]
            await until(lambda: _grew(real_redis, settings, ("coinbase", "ETHUSDT"), eth_before))
            await collector.producer.flush()
            after = await groups(real_redis, settings)
            assert sum(n for (_, g), n in after.items() if g == "BTCUSDT") == btc_before
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=20)


async def _has(redis: aredis.Redis, settings: Settings, wanted: set[str]) -> bool:
    seen = await groups(redis, settings)
    return all(seen[(v, g)] > 0 for v in ("binance", "coinbase") for g in wanted)


async def _grew(redis: aredis.Redis, settings: Settings, key: tuple[str, str], n: int) -> bool:
    return (await groups(redis, settings))[key] > n + 5


async def _check_api(settings: Settings, redis: aredis.Redis) -> None:
    """The engine's /api/v1/symbols shows what the collector published."""
    stop = asyncio.Event()
    engine = asyncio.create_task(Engine(settings, redis, with_aggregator=False).run(stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.api_port}") as http:

            async def answer() -> Any:
                try:
                    response = await http.get("/api/v1/symbols")
                except httpx.TransportError:
                    return None
                return response.json() if response.status_code == 200 else None

            body = await until(answer)
    finally:
        stop.set()
        await asyncio.wait_for(engine, timeout=15)
    assert body["source"] == "collector" and body["updated"].endswith("Z")
    [btc] = body["symbols"]
    assert btc["symbol"] == "BTCUSDT"
    assert btc["venues"]["coinbase"] == {
        "venue_symbol": "BTC-USD", "symbol": "BTCUSD", "base": "BTC", "quote": "USD",
        "market": "spot", "inverse": False, "tick_size": 0.01, "lot_size": 1e-08,
        "contract_size": 1.0, "status": "trading",
    }  # fmt: skip
    assert btc["venues"]["binance"]["venue_symbol"] == "BTCUSDT"
    assert btc["venues"]["binance"]["lot_size"] == 0.001
