"""Benchmark: seed 002's query endpoints over 1,000,000 large-trade, funding and open-interest
rows each, over HTTP.

A private PostgreSQL 15 (`LocalPostgres`, fsync off) is migrated and bulk-loaded with COPY
(asyncpg `copy_records_to_table`, the indexes in place), in time order as the writer inserts
them, with synthetic rows spread over `--days` days: 8 venues x 10 symbols, large trades of $20k-$5M (3 % liquidations),
funding and open interest sampled per venue and symbol. Then ANALYZE, and the API
(`exchange_data` routes on uvicorn, one process) answers each query `--requests` times after
`--warmup` requests; latency is the client's wall time per request (HTTP included).

    python -m benchmarks.bench_query [--rows 1000000] [--days 30] [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import asyncpg
import httpx
import uvicorn
from fastapi import FastAPI

from benchmarks.common import machine
from microservices.ai_engine.exchange_data.api import add_exchange_data_routes
from microservices.ai_engine.exchange_data.database import QueryDb
from microservices.common.redis_server import free_port
from microservices.storage import tables
from microservices.storage.migrate import migrate_url
from microservices.storage.pg_server import LocalPostgres
from microservices.storage.rows import dumps

VENUES: Final = {  # venue -> (market, venue symbol pattern)
    "coinbase": ("spot", "{b}-USD"), "binance": ("spot", "{b}USDT"),
    "binance_futures": ("perp", "{b}USDT"), "bybit": ("perp", "{b}USDT"),
    "okx": ("perp", "{b}-USDT-SWAP"), "deribit": ("perp", "{b}-PERPETUAL"),
    "kucoin": ("perp", "{b}USDTM"), "gateio": ("perp", "{b}_USDT"),
}  # fmt: skip
BASES: Final = ("BTC", "ETH", "SOL", "XRP", "DOGE", "ADA", "AVAX", "LINK", "DOT", "LTC")
PRICES: Final = dict(zip(BASES, (100_000, 3_500, 150, 0.6, 0.15, 0.5, 30, 15, 6, 80), strict=True))
QUERIES: Final[tuple[tuple[str, dict[str, str | int | float]], ...]] = (
    ("large-trades", {"symbol": "BTC-USD", "hours": 24}),
    ("large-trades", {"only_liquidations": "true", "min_value_usd": 200_000}),
    ("large-trades", {"symbol": "SOL", "exchange": "bybit", "hours": 168, "limit": 1000}),
    ("funding-rates", {"symbol": "BTC-PERPETUAL", "hours": 24}),
    ("funding-rates", {"hours": 24, "limit": 1000}),
    ("open-interest", {"symbol": "BTC", "hours": 24}),
    ("open-interest", {"symbol": "ETH-PERPETUAL", "exchange": "deribit", "hours": 168}),
)


def _instrument(rng: random.Random, perp_only: bool = False) -> tuple[str, str, str, str, str]:
    venues = [v for v, (m, _) in VENUES.items() if m == "perp" or not perp_only]
    venue = rng.choice(venues)
    base = BASES[min(int(rng.expovariate(0.5)), len(BASES) - 1)]  # BTC most, LTC least
    market, pattern = VENUES[venue]
    vsym = pattern.format(b=base)
    canonical = f"{base}USD" if venue == "coinbase" else f"{base}USDT"
    return venue, market, vsym, canonical, base


def large_trade_rows(
    count: int, start: datetime, span_s: float, seed: int
) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        venue, market, vsym, canonical, base = _instrument(rng)
        value = min(20_000 * rng.paretovariate(1.2), 5_000_000)
        price = PRICES[base] * rng.uniform(0.9, 1.1)
        liq = market == "perp" and rng.random() < 0.03
        ts = start + timedelta(seconds=rng.uniform(0, span_s))
        rows.append((
            f"{venue}_{vsym}_{n}", venue, vsym, canonical, f"{base}USDT",
            "sell" if rng.random() < 0.5 else "buy", round(price, 8), round(value / price, 8),
            round(value, 2), ts, str(n), liq, dumps({"market": market, "quote": "USD"}),
        ))  # fmt: skip
    return rows


def venue_rows(kind: str, count: int, start: datetime, span_s: float, seed: int) -> list[Any]:
    """Funding or open-interest rows: each perp venue and symbol sampled evenly over the span."""
    rng = random.Random(seed)
    keys = sorted({_instrument(rng, perp_only=True) for _ in range(2_000)})
    per_key = count // len(keys) + 1
    rows: list[Any] = []
    for venue, market, vsym, canonical, base in keys:
        for i in range(per_key):
            if len(rows) == count:
                return rows
            ts = start + timedelta(seconds=span_s * i / per_key)
            row_id = f"{venue}_{vsym}_{int(ts.timestamp() * 1000)}"
            head = (row_id, venue, vsym, canonical, f"{base}USDT")
            if kind == "funding":
                meta = dumps({"market": market, "funding_interval_h": 8.0})
                rows.append((*head, round(rng.gauss(0.0001, 0.0002), 8), None, ts, None, meta))
            else:
                contracts = rng.uniform(1e3, 1e6)
                usd = round(contracts * PRICES[base], 2)
                rows.append((*head, round(contracts, 8), usd, ts, dumps({"market": market})))
    return rows


async def load(url: str, rows: int, days: float) -> dict[str, float]:
    now = datetime.now(tz=UTC)
    start, span = now - timedelta(days=days), days * 86_400
    seconds: dict[str, float] = {}
    conn = await asyncpg.connect(url)
    try:
        for table, make in (
            (tables.LARGE_TRADES, lambda: large_trade_rows(rows, start, span, 1)),
            (tables.FUNDING_RATES, lambda: venue_rows("funding", rows, start, span, 2)),
            (tables.OPEN_INTEREST, lambda: venue_rows("oi", rows, start, span, 3)),
        ):
            at = table.column_names.index("timestamp")
            data = sorted(make(), key=lambda row: row[at])  # time order, as the writer inserts
            began = time.perf_counter()
            await conn.copy_records_to_table(table.name, records=data, columns=table.column_names)
            seconds[table.name] = time.perf_counter() - began
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return seconds


async def measure(url: str, requests: int, warmup: int) -> list[tuple[str, list[float], int]]:
    app = FastAPI()
    db = QueryDb(url)
    add_exchange_data_routes(app, db)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                                           lifespan="off", access_log=False))  # fmt: skip
    task = asyncio.create_task(server.serve())
    results = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        while not server.started:  # noqa: ASYNC110 - uvicorn has no started event
            await asyncio.sleep(0.02)
        for path, params in QUERIES:
            count = 0
            timings = []
            for i in range(warmup + requests):
                began = time.perf_counter()
                response = await client.get(f"/api/v1/exchange/{path}", params=params)
                elapsed = (time.perf_counter() - began) * 1000
                response.raise_for_status()
                count = response.json()["data"]["count"]
                if i >= warmup:
                    timings.append(elapsed)
            label = path + "?" + "&".join(f"{k}={v}" for k, v in params.items())
            results.append((label, timings, count))
    server.should_exit = True
    await task
    await db.close()
    return results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    print(machine())
    with LocalPostgres(fast=True) as server:
        asyncio.run(migrate_url(server.url))
        loaded = asyncio.run(load(server.url, args.rows, args.days))
        for name, seconds in loaded.items():
            print(f"COPY {args.rows:,} rows into {name}: {seconds:.1f} s "
                  f"({args.rows / seconds:,.0f} rows/s)")  # fmt: skip
        results = asyncio.run(measure(server.url, args.requests, args.warmup))
    print("\n| query | rows returned | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|")
    for label, timings, count in results:
        print(f"| `{label}` | {count} | {statistics.median(timings):.1f} | "
              f"{percentile(timings, 0.95):.1f} | {percentile(timings, 0.99):.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()
