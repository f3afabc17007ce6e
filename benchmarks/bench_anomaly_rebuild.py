"""Benchmark: the anomaly monitor taking a shard (`AnomalyService.rebuild`) against a local
redis-server: the shard of exchange.normalized holds `--per-symbol` snapshots (6 venues) of
each of `--symbols` symbols (50 x 200: the default MAXLEN of 10,000), one per `--steps` ms per
symbol (1000: every snapshot is a sample; 250: one in four). Per run: seconds for the rebuild, and the longest the event loop
went without running a 1 ms ticker meanwhile (what the engine's other tasks wait), with replay
pages of `--pages` snapshots (alternating within each run).

    python -m benchmarks.bench_anomaly_rebuild [--symbols 50] [--per-symbol 200] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import replace

import redis.asyncio as aredis

from benchmarks.bench_spectral import snapshots
from benchmarks.common import Result, machine, table, timed_with_stall
from microservices.common.producer import StreamProducer
from microservices.common.redis_io import create_redis
from microservices.common.redis_server import LocalRedis
from microservices.common.settings import Settings, load_settings
from microservices.ml.anomaly_service import AnomalyService


async def fill(redis: aredis.Redis, settings: Settings, symbols: int, count: int, step: int) -> int:
    normalized = settings.streams().normalized
    producer = StreamProducer(redis)
    base = snapshots(count, 6)
    for i, snap in enumerate(base):
        for k in range(symbols):
            producer.publish(
                normalized, replace(snap, symbol=f"S{k}USDT", ts_ms=base[0].ts_ms + step * i)
            )
        await producer.flush()
    return int(await redis.xlen(normalized.name))


async def rebuild_once(redis: aredis.Redis, settings: Settings, page: int) -> tuple[float, float]:
    """(seconds for the rebuild, longest gap of a 1 ms ticker in ms)."""
    streams = settings.streams()
    await redis.delete(streams.anomalies.name, streams.market_alerts.name)
    service = AnomalyService(settings, redis, StreamProducer(redis))
    _, seconds, longest_ms = await timed_with_stall(service.rebuild(0, page))
    return seconds, longest_ms


async def measure(args: argparse.Namespace) -> list[Result]:
    server = LocalRedis().start()
    redis = create_redis(server.url)
    results: list[Result] = []
    try:
        for step in args.steps:
            settings = load_settings(env_file=None, redis_url=server.url, stream_prefix=f"bench{step}:",
                                     listing_cache_dir="", maxlen_normalized=1_000_000)  # fmt: skip
            entries = await fill(redis, settings, args.symbols, args.per_symbol, step)
            runs: dict[int, list[tuple[float, float]]] = {page: [] for page in args.pages}
            for _ in range(args.runs):
                for page in args.pages:
                    runs[page].append(await rebuild_once(redis, settings, page))
            what = f"{entries:,} snapshots, 1 per {step} ms"
            for page, measured in runs.items():
                results.append(
                    Result(f"rebuild, {what}", "s", [m[0] for m in measured], f"page {page}")
                )
                results.append(
                    Result(
                        f"longest loop stall, {what}",
                        "ms",
                        [m[1] for m in measured],
                        f"page {page}",
                    )
                )
    finally:
        await redis.aclose()
        server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description="anomaly monitor shard rebuild benchmark")
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--per-symbol", type=int, default=200)
    parser.add_argument("--steps", type=int, nargs="+", default=[1000, 250])
    parser.add_argument("--pages", type=int, nargs="+", default=[100, 2000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results = asyncio.run(measure(args))
    print(machine())
    print(table(results))


if __name__ == "__main__":
    main()
