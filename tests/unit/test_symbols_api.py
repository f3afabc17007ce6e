"""/api/v1/symbols before and after the collector publishes its followed set."""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aredis

from microservices.ai_engine.symbols_api import followed_symbols, read_followed, symbols_response
from microservices.common.settings import Settings
from microservices.common.streams import collector_key


async def test_before_the_collector_published(
    fake_redis: aredis.Redis, settings_factory: Any
) -> None:
    settings: Settings = settings_factory(symbols="ETH/USDT,top:3")
    assert await followed_symbols(fake_redis, settings) == ["ETHUSDT"]
    body = symbols_response(await read_followed(fake_redis, settings), settings)
    assert (body.source, body.updated) == ("settings", None)
    assert [(s.symbol, s.venues) for s in body.symbols] == [("ETHUSDT", {})]


async def test_what_the_collector_published(
    fake_redis: aredis.Redis, settings_factory: Any
) -> None:
    settings: Settings = settings_factory(symbols="top:2")
    coinbase = {"venue_symbol": "SOL-USD", "symbol": "SOLUSD", "base": "SOL", "quote": "USD",
                "market": "spot", "inverse": False, "tick_size": 0.01, "lot_size": 1e-08,
                "contract_size": 1.0, "status": "trading"}  # fmt: skip
    await fake_redis.hset(collector_key(settings.stream_prefix, "symbols"), mapping={
        "SOLUSDT": orjson.dumps({"coinbase": coinbase}), "BTCUSDT": orjson.dumps({}),
        "_updated_ms": b"1700000000123",
    })  # fmt: skip
    assert await followed_symbols(fake_redis, settings) == ["BTCUSDT", "SOLUSDT"]
    body = symbols_response(await read_followed(fake_redis, settings), settings)
    assert (body.source, body.updated) == ("collector", "2023-11-14T22:13:20Z")
    assert [s.symbol for s in body.symbols] == ["BTCUSDT", "SOLUSDT"]
    assert body.symbols[1].venues["coinbase"].model_dump() == coinbase
