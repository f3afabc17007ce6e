"""Issue 16's acceptance path in one engine (real redis-server, real PostgreSQL, HTTP): raw
trades, a liquidation, funding and open interest on exchange.raw -> the large-trade watcher ->
exchange.large_trades -> the storage writer -> PostgreSQL -> seed 002's three endpoints, in the
seed's envelope."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from microservices.ai_engine.engine import Engine
from microservices.common.clock import now_ms
from microservices.common.producer import StreamProducer
from microservices.common.records import Funding, Liquidation, OpenInterest, RawRecord, Trade
from microservices.common.redis_io import create_redis
from microservices.common.redis_server import free_port
from microservices.common.settings import Settings
from tests.integration.test_api_http import wait_for

pytestmark = pytest.mark.integration


def raw(now: int) -> list[RawRecord]:
    head: dict[str, Any] = {"market": "perp", "group": "BTCUSDT"}
    return [
        Trade(exchange="coinbase", market="spot", symbol="BTCUSD", venue_symbol="BTC-USD",
              group="BTCUSDT", quote="USD", ts_ms=now - 3000, recv_ms=now - 3000,
              price=50_123.45, size=2.5, side="buy", trade_id="12345"),
        Trade(exchange="coinbase", market="spot", symbol="BTCUSD", venue_symbol="BTC-USD",
              group="BTCUSDT", quote="USD", ts_ms=now - 2900, recv_ms=now - 2900,
              price=50_000.0, size=0.5, side="sell", trade_id="12346"),  # $25k: not large
        Liquidation(exchange="deribit", symbol="BTCUSD.INV", venue_symbol="BTC-PERPETUAL",
                    quote="USD", ts_ms=now - 2000, recv_ms=now - 2000, price=50_000.0,
                    size=4.0, side="sell", **head),
        Funding(exchange="deribit", symbol="BTCUSD.INV", venue_symbol="BTC-PERPETUAL",
                quote="USD", ts_ms=now - 1000, recv_ms=now - 1000, funding_rate=0.0001,
                funding_interval_h=8.0, **head),
        Funding(exchange="bybit", symbol="BTCUSDT", venue_symbol="BTCUSDT", quote="USDT",
                ts_ms=now - 900, recv_ms=now - 900, funding_rate=0.0002, funding_interval_h=8.0,
                **head),
        OpenInterest(exchange="deribit", symbol="BTCUSD.INV", venue_symbol="BTC-PERPETUAL",
                     quote="USD", ts_ms=now - 800, recv_ms=now - 800, open_interest=50_000.0,
                     open_interest_usd=2.5e9, **head),
    ]  # fmt: skip


async def test_large_trades_funding_and_oi_reach_the_seed_endpoints(
    redis_server: Any, pg_url: str, settings_factory: Any, tmp_path: Path
) -> None:
    settings: Settings = settings_factory(
        redis_url=redis_server.url, database_url=pg_url, api_port=free_port(),
        venues="binance_futures,bybit,coinbase", store_spill_dir=str(tmp_path / "spill"),
        store_block_ms=100,
    )  # fmt: skip
    redis = create_redis(settings.redis_url or "")
    stop = asyncio.Event()
    task = asyncio.create_task(Engine(settings, redis).run(stop))
    try:
        producer = StreamProducer(redis)
        for record in raw(now_ms()):
            producer.publish(settings.streams().raw, record)
        await producer.flush()
        base = f"http://127.0.0.1:{settings.api_port}/api/v1/exchange"
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:

            async def stored(path: str, key: str, count: int) -> Any:
                try:
                    response = await client.get(path, params={"symbol": "BTC", "hours": 1})
                except httpx.TransportError:
                    return None
                body = response.json() if response.status_code == 200 else None
                return body if body and body["data"]["count"] == count else None

            trades = await wait_for(lambda: stored("/large-trades", "trades", 2), 60)
            funding = await wait_for(lambda: stored("/funding-rates", "funding_rates", 2), 30)
            oi = await wait_for(lambda: stored("/open-interest", "open_interest", 1), 30)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
        await redis.aclose()
    assert set(trades) == {"success", "data", "filters", "timestamp"}
    rows = trades["data"]["trades"]
    assert [(r["exchange"], r["symbol"], r["canonical_symbol"], r["is_liquidation"])
            for r in rows] == [("deribit", "BTC-PERPETUAL", "BTCUSD.INV", True),
                               ("coinbase", "BTC-USD", "BTCUSD", False)]  # fmt: skip
    assert rows[0]["value_usd"] == 200_000.0 and rows[1]["value_usd"] == 125_308.63
    assert trades["data"]["summary"]["total_value_usd"] == 325_308.63
    assert funding["data"]["summary"]["average_rate"] == pytest.approx(0.00015)
    assert funding["data"]["summary"]["average_rate_percent"] == pytest.approx(0.015)
    assert oi["data"]["summary"]["total_oi_usd"] == 2.5e9
