"""The market routes over HTTP (httpx on the ASGI app) on fakeredis and a real redis-server,
with the normalized stream, the followed-symbols hash, the stats24h hash and the full books
filled by the test: the fallback order, best price by quote and by cost, arbitrage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio as aredis

from microservices.ai_engine.engine import Engine
from microservices.common.clock import now_ms
from microservices.common.settings import Settings
from microservices.common.streams import collector_key
from tests.unit.market.helpers import publish, snap
from tests.unit.test_orderbook_api import store, top

Api = tuple[httpx.AsyncClient, Engine]


@pytest.fixture
async def api(any_redis: aredis.Redis, settings_factory: Any) -> AsyncIterator[Api]:
    settings: Settings = settings_factory(
        venues="binance,bybit,coinbase", market_venue_order="bybit,coinbase",
        taker_fees_bps={"binance": 10.0},
    )  # fmt: skip
    engine = Engine(settings, any_redis)
    transport = httpx.ASGITransport(app=engine.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client, engine


async def follow(engine: Engine, venues: dict[str, str]) -> None:
    """Publish BTCUSDT as followed on `venues` (venue -> venue symbol)."""
    key = collector_key(engine.settings.stream_prefix, "symbols")
    instruments = {v: {"venue_symbol": s} for v, s in venues.items()}
    await engine.redis.hset(key, mapping={"BTCUSDT": orjson.dumps(instruments),
                                          "_updated_ms": str(now_ms())})  # fmt: skip


async def test_fallback_follows_the_order_then_serves_the_last_good_value(api: Api) -> None:
    """MARKET_VENUE_ORDER=bybit,coinbase with VENUES binance,bybit,coinbase: order bybit,
    coinbase, binance. Venues go stale one by one; then all are: the last good (binance's)
    value is served with stale: true."""
    client, engine = api
    await follow(engine, {"binance": "BTCUSDT", "bybit": "BTCUSDT", "coinbase": "BTC-USD"})
    await engine.redis.hset(collector_key(engine.settings.stream_prefix, "stats24h"), mapping={
        "bybit:BTCUSDT": orjson.dumps({"venue_symbol": "BTCUSDT", "volume_24h": 7.0,
                                       "volume_usd_24h": 700.0, "price_change_24h": 1.2,
                                       "quote_volume_24h": 700.0, "ts_ms": now_ms()}),
    })  # fmt: skip
    fresh = {"binance": (100.0, 99.9, 100.1, 0), "bybit": (101.0, 100.9, 101.1, 0),
             "coinbase": (102.0, 101.9, 102.1, 0)}  # fmt: skip
    answers = []
    for stale in ([], ["bybit"], ["bybit", "coinbase"]):
        venues = {v: q for v, q in fresh.items() if v not in stale}
        await publish(
            engine.redis,
            engine.settings,
            snap("BTCUSDT", now_ms(), venues, excluded=dict.fromkeys(stale, "stale")),
        )
        body = (await client.get("/api/v1/market/btc")).json()
        answers.append((body["venue"], body["price"], body["stale"]))
        if not stale:
            assert (body["volume_24h"], body["price_change_24h"]) == (7.0, 1.2)
            assert body["order"] == ["bybit", "coinbase", "binance"]
            assert (body["best_bid_venue"], body["best_ask"]) == ("coinbase", 100.1)
    assert answers == [("bybit", 101.0, False), ("coinbase", 102.0, False),
                       ("binance", 100.0, False)]  # fmt: skip
    await publish(
        engine.redis,
        engine.settings,
        snap(
            "BTCUSDT",
            now_ms(),
            {},
            excluded={"binance": "stale", "bybit": "stale", "coinbase": "stale"},
        ),
    )
    body = (await client.get("/api/v1/market/BTCUSDT")).json()
    assert (body["venue"], body["price"], body["stale"]) == ("binance", 100.0, True)
    assert [v["status"] for v in body["venues"]] == ["stale", "stale", "stale"]
    assert body["age_s"] >= 0.0


async def test_market_refusals(api: Api) -> None:
    client, _ = api
    assert (await client.get("/api/v1/market/DOGE")).status_code == 404
    missing = await client.get("/api/v1/market/BTCUSDT")
    assert missing.status_code == 404 and "no venue has answered" in missing.json()["detail"]


async def test_best_price_by_quote_and_by_cost(api: Api) -> None:
    client, engine = api
    await publish(engine.redis, engine.settings, snap("BTCUSDT", now_ms(), {
        "binance": (100.0, 99.0, 100.0, 0), "bybit": (100.5, 99.5, 100.5, 0)}))  # fmt: skip
    buy = (await client.get("/api/v1/best-price/BTCUSDT?side=buy")).json()
    assert [(v["venue"], v["price"]) for v in buy["venues"]] == [("binance", 100.0),
                                                                 ("bybit", 100.5)]  # fmt: skip
    assert buy["venues"][1]["spread_bps"] == pytest.approx(50.0)
    assert buy["excluded"] == {"coinbase": "absent"} and buy["ranked_by"] == "price"
    sell = (await client.get("/api/v1/best-price/BTCUSDT?side=sell")).json()
    assert [v["venue"] for v in sell["venues"]] == ["bybit", "binance"]
    assert sell["venues"][1]["spread_pct"] == pytest.approx(0.5 / 99.5 * 100)
    # by cost: $150 on binance = 100 x 1 + 50 of the 101 level, avg 150 / (1 + 50/101),
    # plus 10 bps; bybit fills 100.5 of 150 only
    await store(engine.redis, engine.settings,
                top("binance", [(99.0, 1.0)], [(100.0, 1.0), (101.0, 1.0)]),
                top("bybit", [(99.5, 2.0)], [(100.5, 1.0)]))  # fmt: skip
    cost = (await client.get("/api/v1/best-price/btc?side=buy&notional=150")).json()
    avg = 150.0 / (1.0 + 50.0 / 101.0)
    assert [v["venue"] for v in cost["venues"]] == ["binance", "bybit"]
    assert cost["venues"][0]["price"] == pytest.approx(avg * 1.001)
    assert (cost["venues"][1]["complete"], cost["venues"][1]["filled_usd"]) == (False, 100.5)


async def test_arbitrage_lists_the_crossed_symbols(api: Api) -> None:
    """BTCUSDT crossed by 0.5 / 100.25 = 49.875 bps for two entries; ETHUSDT not crossed."""
    client, engine = api
    t = now_ms()
    crossed = {"binance": (100.5, 100.5, 100.6, 0), "bybit": (100.0, 99.9, 100.0, 0)}
    await publish(engine.redis, engine.settings,
                  snap("BTCUSDT", t - 2_000, {"binance": (100.0, 99.9, 100.1, 0)}),
                  snap("BTCUSDT", t - 1_000, crossed), snap("BTCUSDT", t, crossed),
                  snap("ETHUSDT", t, {"binance": (10.0, 9.9, 10.1, 0),
                                      "bybit": (10.0, 9.95, 10.05, 0)}))  # fmt: skip
    body = (await client.get("/api/v1/arbitrage?min_profit_bps=10")).json()
    [opp] = body["opportunities"]
    assert (opp["symbol"], opp["buy_venue"], opp["sell_venue"]) == ("BTCUSDT", "bybit",
                                                                     "binance")  # fmt: skip
    assert opp["profit_bps"] == pytest.approx(0.5 / 100.25 * 1e4)
    assert (opp["persisted_ms"], opp["at_least"]) == (1_000, False)
    none = (await client.get("/api/v1/arbitrage?min_profit_bps=60")).json()
    assert none["opportunities"] == []
