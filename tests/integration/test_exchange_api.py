"""Seed 002's queries and the history export over HTTP (uvicorn on a free port) against a real
PostgreSQL (the storage fixtures), with rows the test inserts through the writer's own row
builders; the summaries are recomputed from the rows returned."""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pandas as pd
import pytest
import uvicorn
from fastapi import FastAPI

from microservices.ai_engine.exchange_data.api import add_exchange_data_routes
from microservices.ai_engine.exchange_data.database import QueryDb
from microservices.ai_engine.exchange_data.history_api import add_history_routes
from microservices.common.clock import now_ms
from microservices.common.large_trade_schema import LargeTrade
from microservices.common.records import Funding, NormalizedSnapshot, OpenInterest, VenueQuote
from microservices.common.redis_server import free_port
from microservices.storage import tables
from microservices.storage.db import insert_rows
from microservices.storage.rows import (
    funding_row,
    large_trade_row,
    normalized_row,
    open_interest_row,
    orderbook_row,
)

pytestmark = pytest.mark.integration
MIN = 60_000


@contextlib.asynccontextmanager
async def serve(db_url: str | None) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    db = QueryDb(db_url)
    add_exchange_data_routes(app, db)
    add_history_routes(app, db)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                                           lifespan="off"))  # fmt: skip
    task = asyncio.create_task(server.serve())
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        while not server.started:
            await asyncio.sleep(0.02)
        yield client
    server.should_exit = True
    await task
    await db.close()


def big(exchange: str, vsym: str, canon: str, ts: int, value: float, liq: bool, n: int) -> Any:
    price = 50_000.0 if canon.startswith("BTC") else 2_500.0
    group = "BTCUSDT" if canon.startswith("BTC") else "ETHUSDT"
    trade = LargeTrade(
        exchange=exchange, market="spot" if exchange == "coinbase" else "perp", symbol=vsym,
        canonical_symbol=canon, group=group, quote="USD", trade_id=f"t{n}", ts_ms=ts,
        recv_ms=ts, price=price, size=value / price, side="sell" if liq else "buy",
        value_usd=value, quote_usd=1.0, threshold_usd=100_000.0, is_liquidation=liq,
    )  # fmt: skip
    return large_trade_row(trade)


def venue_record(cls: Any, exchange: str, vsym: str, canon: str, ts: int, **body: Any) -> Any:
    return cls(exchange=exchange, market="perp", symbol=canon, venue_symbol=vsym,
               group="BTCUSDT", quote="USD", ts_ms=ts, recv_ms=ts, **body)  # fmt: skip


async def fill(url: str, now: int) -> None:
    trades = [
        big("coinbase", "BTC-USD", "BTCUSD", now - 5 * MIN, 125_308.63, False, 1),
        big("deribit", "BTC-PERPETUAL", "BTCUSD.INV", now - 4 * MIN, 250_000.0, True, 2),
        big("deribit", "BTC-PERPETUAL", "BTCUSD.INV", now - 3 * MIN, 150_000.0, True, 3),
        big("binance_futures", "ETHUSDT", "ETHUSDT", now - 2 * MIN, 60_000.0, False, 4),
        big("coinbase", "BTC-USD", "BTCUSD", now - 30 * 3_600_000, 500_000.0, False, 5),  # old
    ]
    funding = [
        funding_row(venue_record(Funding, "deribit", "BTC-PERPETUAL", "BTCUSD.INV", now - MIN,
                                 funding_rate=0.0001, funding_interval_h=8.0)),
        funding_row(venue_record(Funding, "binance_futures", "BTCUSDT", "BTCUSDT", now - 2 * MIN,
                                 funding_rate=0.00015, funding_interval_h=8.0)),
        funding_row(venue_record(Funding, "bybit", "BTCUSDT", "BTCUSDT", now - 3 * MIN,
                                 funding_rate=0.00005, funding_interval_h=4.0)),
    ]  # fmt: skip
    oi = [
        open_interest_row(venue_record(OpenInterest, "deribit", "BTC-PERPETUAL", "BTCUSD.INV",
                                       now - n * MIN, open_interest=50_000.0 + n,
                                       open_interest_usd=2.5e9 + n * 1e6))
        for n in (1, 2, 3)
    ] + [open_interest_row(venue_record(OpenInterest, "cme", "BTCZ6", "BTCUSD-20261225",
                                        now - 10 * MIN, open_interest=20_000.0,
                                        open_interest_usd=2.0e9))]  # fmt: skip
    book = orderbook_row("bybit", "BTCUSDT", "BTCUSDT", "BTCUSDT", now - MIN,
                         [[100_000.0, 1.5], [99_999.5, 2.0]], [[100_000.5, 0.7]], 42,
                         {"market": "perp"})  # fmt: skip
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await insert_rows(conn, tables.LARGE_TRADES, trades)
            await insert_rows(conn, tables.FUNDING_RATES, funding)
            await insert_rows(conn, tables.OPEN_INTEREST, oi)
            await insert_rows(conn, tables.ORDERBOOKS, [book])
    finally:
        await conn.close()


async def test_large_trades_in_the_seed_envelope(pg_url: str) -> None:
    now = now_ms()
    await fill(pg_url, now)
    async with serve(pg_url) as client:
        body = (await client.get("/api/v1/exchange/large-trades",
                                 params={"symbol": "BTC-USD", "hours": 24})).json()  # fmt: skip
        assert set(body) == {"success", "data", "filters", "timestamp"} and body["success"]
        data = body["data"]
        assert set(data) == {"count", "trades", "summary"} and data["count"] == 3
        trades = data["trades"]
        assert [t["trade_id"] for t in trades] == ["t3", "t2", "t1"]  # newest first, 24 h
        first = trades[2]
        assert (first["exchange"], first["symbol"], first["canonical_symbol"]) == (
            "coinbase", "BTC-USD", "BTCUSD",
        )  # fmt: skip
        assert first["side"] == "buy" and first["value_usd"] == 125_308.63
        assert first["price"] == 50_000.0 and first["is_liquidation"] is False
        assert first["timestamp"].endswith("Z") and first["metadata"]["market"] == "spot"
        summary = data["summary"]
        assert summary == {
            "total_value_usd": round(math.fsum(t["value_usd"] for t in trades), 2),
            "liquidation_count": sum(t["is_liquidation"] for t in trades),
            "exchanges": sorted({t["exchange"] for t in trades}),
            "symbols": sorted({t["symbol"] for t in trades}),
        }
        assert summary["total_value_usd"] == 525_308.63 and summary["liquidation_count"] == 2
        assert body["filters"]["symbol_match"] == {
            "match": "group", "groups": ["BTCUSDT"], "perpetual_only": False,
        }  # fmt: skip
        liqs = (await client.get("/api/v1/exchange/large-trades", params={
            "only_liquidations": "true", "min_value_usd": 200_000})).json()["data"]  # fmt: skip
        assert [t["trade_id"] for t in liqs["trades"]] == ["t2"]
        perp = (
            await client.get(
                "/api/v1/exchange/large-trades", params={"symbol": "BTC-PERPETUAL", "limit": 1}
            )
        ).json()["data"]
        assert [t["trade_id"] for t in perp["trades"]] == ["t3"]
        eth = (
            await client.get(
                "/api/v1/exchange/large-trades",
                params={"symbol": "ETH", "exchange": "binance_futures"},
            )
        ).json()
        assert [t["trade_id"] for t in eth["data"]["trades"]] == ["t4"]
        older = (
            await client.get(
                "/api/v1/exchange/large-trades", params={"symbol": "BTCUSD", "hours": 48}
            )
        ).json()["data"]
        assert older["count"] == 4


async def test_funding_and_open_interest_summaries(pg_url: str) -> None:
    now = now_ms()
    await fill(pg_url, now)
    async with serve(pg_url) as client:
        body = (await client.get("/api/v1/exchange/funding-rates",
                                 params={"symbol": "BTC", "hours": 24})).json()  # fmt: skip
        rates = body["data"]["funding_rates"]
        assert [(r["exchange"], r["symbol"], r["rate"]) for r in rates] == [
            ("deribit", "BTC-PERPETUAL", 0.0001), ("binance_futures", "BTCUSDT", 0.00015),
            ("bybit", "BTCUSDT", 0.00005),
        ]  # fmt: skip
        summary = body["data"]["summary"]
        average = (0.0001 + 0.00015 + 0.00005) / 3
        assert summary["average_rate"] == pytest.approx(average)
        assert summary["average_rate_percent"] == pytest.approx(average * 100)
        # 8 h equivalents: 0.01 %, 0.015 %, 0.00005 per 4 h = 0.01 %
        assert summary["average_rate_8h_percent"] == pytest.approx((0.01 + 0.015 + 0.01) / 3)
        assert summary["exchanges"] == ["binance_futures", "bybit", "deribit"]
        assert rates[0]["metadata"]["funding_interval_h"] == 8.0

        oi = (await client.get("/api/v1/exchange/open-interest", params={"symbol": "BTC"})).json()
        rows = oi["data"]["open_interest"]
        assert oi["data"]["count"] == 4 and rows[0]["open_interest_usd"] == 2.501e9
        latest: dict[tuple[str, str], float] = {}
        for row in rows:  # newest first: the first of each venue symbol is its latest
            latest.setdefault((row["exchange"], row["symbol"]), row["open_interest_usd"])
        assert oi["data"]["summary"]["total_oi_usd"] == sum(latest.values()) == 4.501e9
        assert oi["data"]["summary"]["symbols"] == ["BTC-PERPETUAL", "BTCZ6"]

        books = await client.get("/api/v1/exchange/orderbooks", params={"exchange": "BYBIT"})
        [snap] = books.json()["data"]["orderbooks"]
        assert snap["bids"] == [[100_000.0, 1.5], [99_999.5, 2.0]] and snap["sequence"] == 42


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/exchange/large-trades", {"hours": 0}, "hours"),
        ("/api/v1/exchange/large-trades", {"limit": 5000}, "limit"),
        ("/api/v1/exchange/large-trades", {"min_value_usd": -1}, "min_value_usd"),
        ("/api/v1/exchange/large-trades", {"only_liquidations": "maybe"}, "only_liquidations"),
        ("/api/v1/exchange/funding-rates", {"symbol": "BTC USD;--"}, "symbol"),
        ("/api/v1/exchange/open-interest", {"hours": 1e9}, "hours"),
        ("/api/v1/exchange/open-interest", {"exchange": "a" * 64}, "exchange"),
        ("/api/v1/history/BTCUSDT", {"kind": "trades"}, "kind"),
        ("/api/v1/history/BTCUSDT", {"start": "2026-02-01", "end": "2026-01-01"}, "start"),
        ("/api/v1/history/BTCUSDT", {"start": "yesterday"}, "start"),
        ("/api/v1/history/BTCUSDT", {"cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
        ("/api/v1/history/BTCUSDT", {"format": "xlsx"}, "format"),
    ],
)
async def test_out_of_range_parameters_name_the_field(
    pg_url: str, path: str, params: dict[str, Any], field: str
) -> None:
    async with serve(pg_url) as client:
        response = await client.get(path, params=params)
    assert response.status_code == 422
    assert [d["loc"] for d in response.json()["detail"]] == [["query", field]]


async def test_without_a_database_the_queries_answer_503() -> None:
    async with serve(None) as client:
        for path in ("/api/v1/exchange/large-trades", "/api/v1/history/BTCUSDT"):
            response = await client.get(path)
            assert response.status_code == 503
            assert "DATABASE_URL" in response.json()["detail"]
    async with serve(f"postgresql://ce:x@127.0.0.1:{free_port()}/ce") as client:
        response = await client.get("/api/v1/exchange/funding-rates")
        assert response.status_code == 503
        assert response.json()["detail"].startswith("database unavailable")


async def test_history_pages_csv_and_parquet(pg_url: str) -> None:
    start = now_ms() - 60 * MIN
    snaps = [
        normalized_row(NormalizedSnapshot(
            symbol="BTCUSDT", ts_ms=start + n * 1000, avg_price=100_000.0 + n,
            median_price=100_000.0 + n, price_divergence=1.0, exchange_divergence=0.0001,
            funding_delta=0.01, avg_funding_rate=0.01, volatility_factor=1.0, num_exchanges=2,
            venues={"binance": VenueQuote(price=100_000.0 + n)}, excluded={"okx": "stale"},
        ))
        for n in range(25)
    ]  # fmt: skip
    conn = await asyncpg.connect(pg_url)
    try:
        async with conn.transaction():
            await insert_rows(conn, tables.NORMALIZED, snaps)
    finally:
        await conn.close()
    async with serve(pg_url) as client:
        seen: list[float] = []
        cursor = None
        for _ in range(5):
            params: dict[str, Any] = {"kind": "normalized", "limit": 10, "start": start / 1000}
            if cursor is not None:
                params["cursor"] = cursor
            data = (await client.get("/api/v1/history/BTC-USD", params=params)).json()["data"]
            seen += [row["avg_price"] for row in data["rows"]]
            cursor = data["next_cursor"]
            if cursor is None:
                break
        assert seen == [100_000.0 + n for n in range(25)]  # three pages, none skipped or repeated
        csv_page = await client.get(
            "/api/v1/history/BTCUSDT", params={"format": "csv", "limit": 10}
        )
        assert csv_page.headers["content-type"].startswith("text/csv")
        lines = csv_page.text.splitlines()
        assert lines[0].startswith("symbol,timestamp,avg_price") and len(lines) == 11
        assert "X-Next-Cursor" in csv_page.headers and '"{""okx"":""stale""}"' in lines[1]
        parquet = await client.get("/api/v1/history/BTCUSDT", params={"format": "parquet"})
        frame = pd.read_parquet(io.BytesIO(parquet.content))
        assert len(frame) == 25 and list(frame["avg_price"]) == seen
        assert str(frame["timestamp"].dt.tz) == "UTC" and "X-Next-Cursor" not in parquet.headers
