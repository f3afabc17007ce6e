"""Questions in words: the rule parser (pure), the discovery screens worked by hand, and
/api/v1/query plus `cross-exchange ask` over a real HTTP server answering from the streams
and hashes the test fills, recomputed from them."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio as aredis
import uvicorn

from microservices.ai_engine.engine import Engine
from microservices.ai_engine.market.ask_cli import run_ask
from microservices.ai_engine.market.discovery import not_on, only_on, trending
from microservices.ai_engine.market.query import SUPPORTED, parse
from microservices.common.clock import now_ms
from microservices.common.redis_server import free_port
from microservices.common.streams import collector_key
from tests.unit.market.helpers import publish, snap


@pytest.mark.parametrize(
    ("question", "kind", "assets", "venue", "other", "notional"),
    [
        ("What's the best price for MATIC?", "best_price", ("MATIC",), None, None, None),
        ("Find arbitrage opportunities for BTC between exchanges", "arbitrage", ("BTC",),
         None, None, None),
        ("Which exchange has the best liquidity for MATIC?", "liquidity", ("MATIC",), None,
         None, None),
        ("which exchange has the best liquidity for ETH for $100k", "liquidity", ("ETH",),
         None, None, 100_000.0),
        ("Show me tokens trending on KuCoin but not on Binance", "trending", (), "kucoin",
         "binance", None),
        ("Compare ETH prices across all exchanges", "compare", ("ETH",), None, None, None),
        ("compare BTC, eth and SOL", "compare", ("BTC", "ETH", "SOL"), None, None, None),
        ("new listings on Gate.io", "new_listings", (), "gate.io", None, None),
        ("only listed on bybit", "only_on", (), "bybit", None, None),
    ],
)  # fmt: skip
def test_parse(question: str, kind: str, assets: tuple[str, ...], venue: str | None,
               other: str | None, notional: float | None) -> None:  # fmt: skip
    intent = parse(question)
    assert intent is not None
    assert (intent.kind, intent.assets, intent.venue, intent.other, intent.notional) == (
        kind,
        assets,
        venue,
        other,
        notional,
    )


def test_unrecognised() -> None:
    assert parse("what time is it") is None
    assert len(SUPPORTED) == 7


def row(venue: str, base: str, change: float | None, volume: float) -> dict[str, Any]:
    return {"venue": venue, "base": base, "venue_symbol": f"{base}USDT", "quote": "USDT",
            "price_change_24h": change, "volume_usd_24h": volume, "last": 1.0}  # fmt: skip


ROWS = [
    row("kucoin", "AAA", 30.0, 5e6), row("kucoin", "BBB", 20.0, 5e6),
    row("kucoin", "CCC", 50.0, 1e5),  # under the volume floor
    row("kucoin", "DDD", 10.0, 5e6), row("kucoin", "EEE", None, 5e6),  # no change given
    row("binance", "BBB", 25.0, 9e6), row("binance", "DDD", -5.0, 9e6),
    row("binance", "FFF", 40.0, 9e6),
]  # fmt: skip


def test_trending_and_not_on() -> None:
    """kucoin top 2 over $1M: AAA +30, BBB +20. binance top 2: FFF, BBB. Not on binance:
    AAA (not listed); BBB is in binance's top 2. With top 3 DDD enters kucoin's list and is
    listed on binance but not in its top 3 (FFF, BBB, DDD -5 is third: in it)."""
    top2 = trending(ROWS, {"kucoin"}, 1e6, 2)
    assert [(t.asset, t.price_change_24h) for t in top2] == [("AAA", 30.0), ("BBB", 20.0)]
    assert [(t.asset, t.why) for t in not_on(top2, ROWS, {"binance"}, 1e6, 2)] == [
        ("AAA", "not_listed")
    ]
    top3 = trending(ROWS, {"kucoin"}, 1e6, 3)
    assert [t.asset for t in not_on(top3, ROWS, {"binance"}, 1e6, 3)] == ["AAA"]
    assert [(t.asset, t.why) for t in not_on(top3, ROWS, {"binance"}, 1e6, 1)] == [
        ("AAA", "not_listed"),
        ("BBB", "not_in_top"),
        ("DDD", "not_in_top"),
    ]
    assert only_on(ROWS, {"kucoin"}) == ["AAA", "CCC", "EEE"]
    # a venue without 24 h changes (Coinbase): only its listing counts
    listed_only = [*ROWS, row("coinbase", "BBB", None, 0.0)]
    assert [t.asset for t in not_on(top2, listed_only, {"coinbase"}, 1e6, 2)] == ["AAA"]


@pytest.fixture
async def served(any_redis: aredis.Redis, settings_factory: Any) -> AsyncIterator[Engine]:
    """The engine's app on a real HTTP port (what `ask` calls)."""
    port = free_port()
    settings = settings_factory(venues="binance,bybit,coinbase", api_port=port)
    engine = Engine(settings, any_redis)
    server = uvicorn.Server(uvicorn.Config(engine.app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))  # fmt: skip
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield engine
    server.should_exit = True
    await task


async def test_ask_answers_from_the_streams(served: Engine) -> None:
    """ETH: binance ask 2001.0, bybit 2000.5 -> buy on bybit, +2.499 bps on binance;
    bids 2000.0 / 2000.2 -> sell on bybit. The text and the JSON say the same."""
    engine = served
    t = now_ms()
    await publish(
        engine.redis,
        engine.settings,
        snap(
            "ETHUSDT",
            t,
            {"binance": (2000.5, 2000.0, 2001.0, 0), "bybit": (2000.3, 2000.2, 2000.5, 0)},
        ),
        snap(
            "BTCUSDT",
            t,
            {
                "binance": (100_000.0, 99_999.0, 100_001.0, 0),
                "coinbase": (100_010.0, 100_009.0, 100_011.0, 0),
            },
        ),
    )
    key = collector_key(engine.settings.stream_prefix, "symbols")
    await engine.redis.hset(key, mapping={
        "ETHUSDT": orjson.dumps({"binance": {"venue_symbol": "ETHUSDT"},
                                 "bybit": {"venue_symbol": "ETHUSDT"}}),
        "BTCUSDT": orjson.dumps({"binance": {"venue_symbol": "BTCUSDT"},
                                 "coinbase": {"venue_symbol": "BTC-USD"}}),
    })  # fmt: skip
    out = io.StringIO()
    code = await asyncio.to_thread(run_ask, engine.settings, "best price for ETH", False, out)
    lines = out.getvalue().splitlines()
    assert code == 0
    assert lines[0] == ("ETHUSDT buy: bybit 2,000.50, binance 2,001.00 (+2.5 bps) "
                        "(not ranked: coinbase absent)")  # fmt: skip
    assert lines[1].startswith("ETHUSDT sell: bybit 2,000.20, binance 2,000.00 (+1.0 bps)")
    out = io.StringIO()
    await asyncio.to_thread(run_ask, engine.settings, "compare BTC across exchanges", True, out)
    body = orjson.loads(out.getvalue())
    venues = {v["venue"]: (v["status"], v["price"]) for v in body["answer"]["BTCUSDT"]}
    assert venues == {"binance": ("ok", 100_000.0), "bybit": ("absent", None),
                      "coinbase": ("ok", 100_010.0)}  # fmt: skip
    # the endpoints say the same: /best-price ranks as the answer did
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.settings.api_port}") as c:
        ranked = (await c.get("/api/v1/best-price/ETH?side=buy")).json()["venues"]
        assert [(v["venue"], v["spread_bps"]) for v in ranked] == [
            ("bybit", 0.0),
            ("binance", pytest.approx(0.5 / 2000.5 * 1e4)),
        ]
        unknown = (await c.get("/api/v1/query", params={"q": "best price for DOGE"})).json()
        assert unknown["unknown"] == ["DOGE"] and "not followed: DOGE" in unknown["text"]
        help_text = (await c.get("/api/v1/query", params={"q": "hi", "format": "text"})).text
        assert "trending on V [but not on W]" in help_text
