"""Benchmark: the storage writer drains a pre-filled backlog into PostgreSQL (issue 16).

A private redis-server and a private PostgreSQL 15 (LocalPostgres: initdb on a free port,
default durability: fsync on, synchronous_commit on) are started; `--entries` stream entries
are written to exchange.raw beforehand (half funding, half open-interest records of 20
venue/symbol pairs, each a distinct row), then the writer (`StoreService`, the code
`cross-exchange store` runs, consumer group `storage`) is started and timed until the group
has acknowledged the last entry. Rows/s = rows in the tables / that time. With
`--kind large_trades` the backlog is exchange.large_trades entries instead (seed 002's
`large_trades` table and its six indexes).

    python -m benchmarks.bench_store [--entries 1000000] [--batch 2000] [--kind raw|large_trades]
        [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

from microservices.common.large_trade_schema import LargeTrade
from microservices.common.records import Funding, OpenInterest
from microservices.common.redis_io import create_redis
from microservices.common.redis_server import LocalRedis
from microservices.common.settings import load_settings
from microservices.storage.pg_server import LocalPostgres
from microservices.storage.service import StoreService
from microservices.storage.writer import GROUP

T0 = 1_700_000_000_000
PAIRS = [(f"venue{v}", f"SYM{s}USDT") for v in range(4) for s in range(5)]


def raw_record(i: int) -> Any:
    venue, symbol = PAIRS[i % len(PAIRS)]
    head: dict[str, Any] = {
        "exchange": venue, "market": "perp", "symbol": symbol, "venue_symbol": symbol,
        "group": symbol, "quote": "USDT", "ts_ms": T0 + i, "recv_ms": T0 + i + 5,
    }  # fmt: skip
    if i % 2:
        return OpenInterest(**head, open_interest=1000.0 + i % 97, open_interest_usd=5e7 + i)
    return Funding(**head, funding_rate=0.0001 * (i % 7 - 3), funding_interval_h=8.0,
                   next_funding_time_ms=T0 + 8 * 3_600_000, mark_price=100.0 + i % 13)  # fmt: skip


def large_trade(i: int) -> LargeTrade:
    venue, symbol = PAIRS[i % len(PAIRS)]
    price, size = 50_000.0 + i % 1000, 2.0 + (i % 50) / 10
    return LargeTrade(
        exchange=venue, market="perp", symbol=symbol, canonical_symbol=symbol, group=symbol,
        quote="USDT", trade_id=str(i), ts_ms=T0 + i, recv_ms=T0 + i + 5, price=price, size=size,
        side="buy" if i % 3 else "sell", value_usd=price * size, quote_usd=1.0,
        threshold_usd=100_000.0, is_liquidation=i % 11 == 0,
    )  # fmt: skip


async def prefill(redis: Any, stream: Any, entries: int, make: Any) -> float:
    started = time.perf_counter()
    chunk = 10_000
    for start in range(0, entries, chunk):
        pipe = redis.pipeline(transaction=False)
        for i in range(start, min(entries, start + chunk)):
            pipe.xadd(stream.name, stream.schema.encode(make(i)))
        await pipe.execute()
    return time.perf_counter() - started


async def drained(redis: Any, name: str) -> bool:
    groups: Any = await redis.xinfo_groups(name)
    info: Any = await redis.xinfo_stream(name)
    mine = [g for g in groups if g["name"] in (GROUP, GROUP.encode())]
    return (
        bool(mine)
        and mine[0]["pending"] == 0
        and (mine[0]["last-delivered-id"] == info["last-generated-id"])
    )


async def bench(
    entries: int, batch: int, kind: str, redis_url: str, pg: LocalPostgres, workers: int
) -> dict[str, Any]:
    settings = load_settings(
        env_file=None, redis_url=redis_url, stream_prefix="bench:", store_batch_size=batch, store_workers=workers,
        maxlen_raw=entries, store_orderbook_interval_s=3600, store_spill_dir="",
    )  # fmt: skip
    streams = settings.streams()
    stream = streams.large_trades if kind == "large_trades" else streams.raw
    redis = create_redis(redis_url)
    fill_s = await prefill(
        redis, stream, entries, large_trade if kind == "large_trades" else raw_record
    )
    service = StoreService(settings, redis, pg.url)
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(service.run(stop))
    while not await drained(redis, stream.name):
        if task.done():
            task.result()
        await asyncio.sleep(0.2)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    await redis.aclose()
    conn = await asyncpg.connect(pg.url)
    tables = ("large_trades",) if kind == "large_trades" else ("funding_rates", "open_interest")
    rows = sum([int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in tables])
    await conn.close()
    return {
        "kind": kind, "entries": entries, "batch": batch, "workers": workers, "rows": rows,
        "prefill_s": round(fill_s, 1), "drain_s": round(elapsed, 2),
        "rows_per_s": round(rows / elapsed), "lost": service.status.lost,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--kind", choices=["raw", "large_trades"], default="raw")
    parser.add_argument("--workers", type=int, default=2, help="STORE_WORKERS")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="ce-bench-store-"))
    base.chmod(0o755)  # the cluster's unprivileged owner must reach it
    try:
        with LocalRedis(prefer="redis-server") as redis, LocalPostgres(base / "pg") as pg:
            result = asyncio.run(
                bench(args.entries, args.batch, args.kind, redis.url, pg, args.workers)
            )
        print(json.dumps(result))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
