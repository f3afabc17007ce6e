"""Benchmark: walking a stream newest first, as the `/arbitrage` scan does, against a local
redis-server: the plain XREVRANGE paging the readers did before sharding (one key), against
`shard_read.walk_newest` on one key (STREAM_SHARDS=1) and on four shards (merged by id).
Every walk reads `--entries` entries of 42 fields, `--page` at a time; the three walks
alternate within each run, so they share the machine's load.

    python -m benchmarks.bench_shard_read [--entries 10000] [--page 500] [--runs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aredis

from benchmarks.common import Result, machine, table
from microservices.common import shard_read
from microservices.common.redis_io import create_redis
from microservices.common.redis_server import LocalRedis
from microservices.common.streams import Stream, build_streams


async def plain_walk(redis: aredis.Redis, name: str, page: int) -> int:
    """The readers' loop before sharding: XREVRANGE pages of one key."""
    upper, count = "+", 0
    while True:
        rows: Any = await redis.xrevrange(name, upper, "-", count=page)
        count += len(rows)
        if len(rows) < page:
            return count
        upper = "(" + rows[-1][0].decode()


async def merged_walk(redis: aredis.Redis, stream: Stream[Any], page: int) -> int:
    count = 0
    async for batch in shard_read.walk_newest(redis, stream, page):
        count += len(batch)
    return count


async def fill(redis: aredis.Redis, one: Stream[Any], four: Stream[Any], entries: int) -> None:
    fields = {"symbol": "BTCUSDT", **{f"f{i}": "1.23456789" for i in range(41)}}
    pipe = redis.pipeline(transaction=False)
    for n in range(entries):
        pipe.xadd(one.name, fields)  # type: ignore[arg-type]
        pipe.xadd(four.shard(n % 4).name, fields)  # type: ignore[arg-type]
    await pipe.execute()


async def measure(entries: int, page: int, runs: int) -> list[Result]:
    server = LocalRedis().start()
    redis = create_redis(server.url)
    try:
        one = build_streams("bench1:").normalized
        four = build_streams("bench4:", shards=4).normalized
        await fill(redis, one, four, entries)
        walks: dict[str, Callable[[], Awaitable[int]]] = {
            "plain XREVRANGE paging, 1 key": lambda: plain_walk(redis, one.name, page),
            "walk_newest, STREAM_SHARDS=1": lambda: merged_walk(redis, one, page),
            "walk_newest, STREAM_SHARDS=4": lambda: merged_walk(redis, four, page),
        }
        times: dict[str, list[float]] = {name: [] for name in walks}
        for _ in range(runs):
            for name, walk in walks.items():
                started = time.perf_counter()
                assert await walk() == entries
                times[name].append(1000 * (time.perf_counter() - started))
    finally:
        await redis.aclose()
        server.stop()
    note = f"{entries:,} entries, pages of {page}"
    return [Result(name, "ms/walk", values, note) for name, values in times.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--page", type=int, default=500)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(machine())
    print(table(asyncio.run(measure(args.entries, args.page, args.runs))))


if __name__ == "__main__":
    main()
