"""The order-book API over HTTP (httpx on the ASGI app) on fakeredis and a real redis-server:
one venue's book, the consolidated ladder, execution costs (worked by hand, and recomputed
from the full books the API serves: the acceptance test of issue 13), and its refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aredis

from microservices.ai_engine.engine import Engine
from microservices.common.book_schema import BookTop, encode_full_book, full_book_field
from microservices.common.clock import now_ms
from microservices.common.orderbook.depth import depth_within_bps
from microservices.common.redis_io import create_redis
from microservices.common.redis_server import free_port
from microservices.common.settings import Settings
from microservices.common.streams import collector_key

Levels = list[tuple[float, float]]


def top(venue: str, bids: Levels, asks: Levels, *, quote: str = "USDT", age_ms: int = 0,
        venue_symbol: str = "BTCUSDT") -> BookTop:  # fmt: skip
    mid = (bids[0][0] + asks[0][0]) / 2.0
    at = now_ms() - age_ms
    return BookTop(
        exchange=venue, market="spot", symbol=venue_symbol.replace("-", ""),
        venue_symbol=venue_symbol, group="BTCUSDT", quote=quote, ts_ms=at - 5, recv_ms=at,
        sequence=42, bids=bids, asks=asks, bid_levels=len(bids), ask_levels=len(asks),
        bid_depth_10bps=depth_within_bps(bids, mid, 10), ask_depth_10bps=depth_within_bps(asks, mid, 10),
        bid_depth_50bps=depth_within_bps(bids, mid, 50), ask_depth_50bps=depth_within_bps(asks, mid, 50),
    )  # fmt: skip


async def store(redis: aredis.Redis, settings: Settings, *books: BookTop) -> None:
    key = collector_key(settings.stream_prefix, "books")
    await redis.hset(key, mapping={
        full_book_field(b.exchange, b.group): encode_full_book(b) for b in books
    })  # fmt: skip


@pytest.fixture
async def api(
    any_redis: aredis.Redis, settings_factory: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Engine]]:
    settings: Settings = settings_factory(
        venues="binance,bybit,coinbase", taker_fees_bps={"binance": 10.0, "coinbase": 60.0}
    )
    engine = Engine(settings, any_redis)
    transport = httpx.ASGITransport(app=engine.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client, engine


async def test_cost_worked_by_hand(api: tuple[httpx.AsyncClient, Engine]) -> None:
    """binance asks 100 x 1, 101 x 1, bids 99 x 1; bybit ask 100.5 x 1, bid 99.5 x 2 (USDT at
    par). NBBO mid (99.5 + 100) / 2 = 99.75. Buying $250 across: 100 on binance, 100.5 on
    bybit, then 49.5 of binance's 101 level: base 2 + 49.5 / 101. binance alone fills 201 of
    250 (remainder 49) at 100.5 against its mid 99.5: 100.5025 bps. Fee: binance 10 bps on
    149.5 = $0.1495, 5.98 bps of 250."""
    client, engine = api
    await store(engine.redis, engine.settings,
                top("binance", [(99.0, 1.0)], [(100.0, 1.0), (101.0, 1.0)]),
                top("bybit", [(99.5, 2.0)], [(100.5, 1.0)]))  # fmt: skip
    answer = await client.get("/api/v1/orderbook/btcusdt/cost?side=buy&notional=250")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["symbol"], body["usd_rates"], body["excluded"]) == ("BTCUSDT", "aggregator", {})
    merged = body["consolidated"]
    base = 2.0 + 49.5 / 101.0
    assert merged["mid"] == 99.75 and merged["remainder"] == 0.0
    assert merged["base_filled"] == pytest.approx(base)
    assert merged["cost_bps"] == pytest.approx((250.0 / base - 99.75) / 99.75 * 1e4)
    assert merged["split"]["binance"]["notional_usd"] == pytest.approx(149.5)
    assert merged["split"]["bybit"] == {"notional_usd": 100.5, "base": 1.0, "levels_used": 1,
                                        "fee_usd": 0.0}  # fmt: skip
    assert (merged["fee_usd"], merged["fee_bps"]) == (pytest.approx(0.1495), pytest.approx(5.98))
    alone = body["per_venue"]["binance"]
    assert (alone["notional_filled"], alone["remainder"], alone["avg_price"]) == (
        201.0,
        49.0,
        100.5,
    )
    assert alone["cost_bps"] == pytest.approx(100.5025125628)
    assert alone["fee_bps"] == pytest.approx(10.0)
    sell = (await client.get("/api/v1/orderbook/BTCUSDT/cost?side=sell&notional=99.5")).json()
    assert sell["consolidated"]["avg_price"] == 99.5 and sell["consolidated"]["cost_bps"] == (
        pytest.approx(0.25 / 99.75 * 1e4)
    )


def ladder(start: float, step: float, sizes: list[float]) -> Levels:
    return [(round(start + k * step, 2), size) for k, size in enumerate(sizes)]


SIZES = [0.3, 1.2, 0.8, 2.5, 0.1, 4.0, 1.7, 3.3, 0.6, 5.0, 2.2, 0.9]


def walk(
    books: dict[str, Any], rates: dict[str, float], side: str, notional: float
) -> dict[str, Any]:
    """An independent walk over the served books: every level in USD, best first (ties by
    venue name), whole levels then a fraction of the last."""
    key = "asks" if side == "buy" else "bids"
    levels = sorted(
        ((price * rates[v], v, size) for v, b in books.items() for price, size in b[key]),
        key=lambda row: (row[0] if side == "buy" else -row[0], row[1]),
    )
    left, base = notional, 0.0
    split: dict[str, float] = {}
    for price, venue, size in levels:
        if left <= 0.0:
            break
        take = min(left, price * size)
        left -= take
        base += take / price
        split[venue] = split.get(venue, 0.0) + take
    bid = max(b["bids"][0][0] * rates[v] for v, b in books.items())
    ask = min(b["asks"][0][0] * rates[v] for v, b in books.items())
    mid = (bid + ask) / 2.0
    filled = notional - max(left, 0.0)
    avg = filled / base
    cost = (avg - mid if side == "buy" else mid - avg) / mid * 1e4
    return {"filled": filled, "remainder": max(left, 0.0), "cost_bps": cost, "split": split}


async def test_acceptance_costs_recomputed_from_the_served_books(
    api: tuple[httpx.AsyncClient, Engine],
) -> None:
    """Three venues, USDT at 0.999 USD (the aggregator's rate), Coinbase in USD: the costs of
    /cost equal a hand walk over the books /orderbook/BTCUSDT?venue=V&depth=0 serves."""
    client, engine = api
    assert engine.aggregator is not None
    engine.aggregator.state.usd.rates.observe("USDTUSD", 0.999)
    await store(engine.redis, engine.settings,
                top("binance", ladder(99_990.0, -7.5, SIZES), ladder(100_010.0, 6.5, SIZES)),
                top("bybit", ladder(99_995.5, -9.0, SIZES[::-1]), ladder(100_012.0, 8.0, SIZES)),
                top("coinbase", ladder(99_880.0, -5.0, SIZES), ladder(99_905.0, 11.0, SIZES[::-1]),
                    quote="USD", venue_symbol="BTC-USD"))  # fmt: skip
    served = {}
    for venue in ("binance", "bybit", "coinbase"):
        answer = await client.get(f"/api/v1/orderbook/BTCUSDT?venue={venue}&depth=0")
        assert answer.status_code == 200, answer.text
        served[venue] = answer.json()
        assert served[venue]["bid_levels"] == len(served[venue]["bids"]) == 12
    assert served["coinbase"]["venue_symbol"] == "BTC-USD" and served["coinbase"]["quote"] == "USD"
    rates = {"binance": 0.999, "bybit": 0.999, "coinbase": 1.0}
    for side, notional in (("buy", 100_000.0), ("sell", 100_000.0), ("buy", 1.5e7)):
        answer = await client.get(f"/api/v1/orderbook/BTCUSDT/cost?side={side}&notional={notional}")
        body = answer.json()
        assert {v: s["usd_rate"] for v, s in body["venues"].items()} == rates
        want = walk(served, rates, side, notional)
        got = body["consolidated"]
        assert got["notional_filled"] == pytest.approx(want["filled"], rel=1e-12)
        assert got["remainder"] == pytest.approx(want["remainder"], rel=1e-9, abs=1e-6)
        assert got["cost_bps"] == pytest.approx(want["cost_bps"], rel=1e-9)
        assert {v: f["notional_usd"] for v, f in got["split"].items()} == pytest.approx(
            want["split"]
        )
        fees = {"binance": 10.0, "bybit": 0.0, "coinbase": 60.0}
        assert got["fee_usd"] == pytest.approx(
            sum(n * fees[v] / 1e4 for v, n in want["split"].items())
        )
        for venue in served:
            alone = walk({venue: served[venue]}, rates, side, notional)
            assert body["per_venue"][venue]["cost_bps"] == pytest.approx(
                alone["cost_bps"], rel=1e-9
            )
            assert body["per_venue"][venue]["remainder"] == pytest.approx(
                alone["remainder"], abs=1e-6
            )
    assert body["consolidated"]["remainder"] > 0.0  # $15M is more than the three books hold


async def test_one_book_and_the_consolidated_ladder(api: tuple[httpx.AsyncClient, Engine]) -> None:
    client, engine = api
    await store(engine.redis, engine.settings,
                top("binance", ladder(99.9, -0.1, SIZES), ladder(100.1, 0.1, SIZES)),
                top("coinbase", [(100.0, 2.0)], [(100.05, 1.0)], quote="USD", age_ms=1_500))  # fmt: skip
    book = (await client.get("/api/v1/orderbook/BTCUSDT?venue=binance")).json()
    assert (len(book["bids"]), len(book["asks"]), book["bid_levels"]) == (12, 12, 12)
    assert book["bids"][:2] == [[99.9, 0.3], [99.8, 1.2]] and book["sequence"] == 42
    three = (await client.get("/api/v1/orderbook/BTCUSDT?venue=binance&depth=3")).json()
    assert three["asks"] == [[100.1, 0.3], [100.2, 1.2], [100.3, 0.8]]
    coinbase = (await client.get("/api/v1/orderbook/BTCUSDT?venue=coinbase")).json()
    assert 1.5 <= coinbase["age_s"] < 5.0
    merged = (await client.get("/api/v1/orderbook/BTCUSDT/consolidated?depth=2")).json()
    assert merged["bids"] == [{"price": 100.0, "size": 2.0, "venue": "coinbase"},
                              {"price": 99.9, "size": 0.3, "venue": "binance"}]  # fmt: skip
    assert merged["asks"][0] == {"price": 100.05, "size": 1.0, "venue": "coinbase"}
    assert merged["mid"] == pytest.approx(100.025) and merged["crossed"] is False
    assert set(merged["venues"]) == {"binance", "coinbase"}


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        ("/api/v1/orderbook/BTCUSDT/cost?side=hold", 422, "side"),
        ("/api/v1/orderbook/BTCUSDT/cost?notional=0", 422, "notional"),
        ("/api/v1/orderbook/BTCUSDT/cost?notional=-5", 422, "notional"),
        ("/api/v1/orderbook/BTCUSDT/cost?notional=1e12", 422, "notional"),
        ("/api/v1/orderbook/BTCUSDT/cost?notional=nan", 422, "notional"),
        ("/api/v1/orderbook/BTCUSDT?venue=binance&depth=-1", 422, "depth"),
        ("/api/v1/orderbook/BTCUSDT/consolidated?depth=-1", 422, "depth"),
        ("/api/v1/orderbook/BTCUSDT", 422, "venue"),
        ("/api/v1/orderbook/BTCUSDT?venue=okx", 404, "unknown venue 'okx'"),
        ("/api/v1/orderbook/BTCUSDT?venue=bybit", 404, "no fresh order book of BTCUSDT on bybit"),
        ("/api/v1/orderbook/BTCUSDT?venue=coinbase", 404, "(stale)"),
        ("/api/v1/orderbook/DOGEUSDT/cost", 404, "no fresh order book of DOGEUSDT on any venue"),
        ("/api/v1/orderbook/ETHUSDT/consolidated", 404, "(binance: invalid)"),
    ],
)
async def test_refusals(
    api: tuple[httpx.AsyncClient, Engine], path: str, status: int, detail: str
) -> None:
    client, engine = api
    stale = top("coinbase", [(99.0, 1.0)], [(101.0, 1.0)], age_ms=11_000)  # > 10 s
    await store(engine.redis, engine.settings, top("binance", [(99.0, 1.0)], [(101.0, 1.0)]), stale)
    key = collector_key(engine.settings.stream_prefix, "books")
    await engine.redis.hset(key, full_book_field("binance", "ETHUSDT"), b'{"bids": "[]"}')
    answer = await client.get(path)
    assert answer.status_code == status
    assert detail in str(answer.json()["detail"])


async def test_redis_down_is_503(settings_factory: Any) -> None:
    settings: Settings = settings_factory(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    redis = create_redis(settings.redis_url or "", socket_timeout_s=1.0)
    transport = httpx.ASGITransport(app=Engine(settings, redis).app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        for path in ("/api/v1/orderbook/BTCUSDT/cost", "/api/v1/orderbook/BTCUSDT?venue=binance"):
            answer = await client.get(path)
            assert answer.status_code == 503 and "Redis unavailable" in answer.json()["detail"]
    await redis.aclose()
