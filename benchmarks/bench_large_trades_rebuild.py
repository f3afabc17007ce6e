"""Benchmark: the large-trade watcher taking a shard (`LargeTradeService.rebuild`) against a
local redis-server. The shard of exchange.raw holds `--entries` records (default 10,000, the
default MAXLEN_RAW): trades of 20 symbols on 3 venues (one in 20 large), a liquidation every
25 entries and a funding and an open-interest record every 50. Two cases, alternated within
each run:
- `restart`: the group acknowledged everything (a clean stop, a static restart): every entry
  is folded without publishing; the read-back covers the outputs written from 60 s before the
  newest entry on (here all of them: the fill wrote them seconds before);
- `no group`: the group is gone, the outputs are all there (the worst read-back: every
  output is read back and compared, nothing is published again).
Per run: milliseconds for the rebuild, and the longest the event loop went without running a 1 ms
ticker meanwhile (what the engine's other tasks wait).

    python -m benchmarks.bench_large_trades_rebuild [--entries 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import redis.asyncio as aredis

from benchmarks.common import Result, machine, table, timed_with_stall
from microservices.ai_engine.large_trades.service import GROUP, LargeTradeService
from microservices.common.producer import StreamProducer
from microservices.common.records import Funding, Liquidation, OpenInterest, RawRecord, Trade
from microservices.common.redis_io import create_redis
from microservices.common.redis_server import LocalRedis
from microservices.common.settings import Settings, load_settings

T0 = 1_760_000_000_000
VENUES = ("binance_futures", "bybit", "okx")


def record(i: int) -> RawRecord:
    venue, group, ts = VENUES[i % 3], f"S{i % 20}USDT", T0 + i * 10
    head: dict[str, Any] = dict(exchange=venue, market="perp", symbol=group, venue_symbol=group,
                                group=group, quote="USDT", ts_ms=ts, recv_ms=ts)  # fmt: skip
    if i % 50 == 0:
        return Funding(**head, funding_rate=0.0001 * (1 + i % 7), funding_interval_h=8.0)
    if i % 50 == 1:
        return OpenInterest(**head, open_interest=10_000.0 * (1 + (i % 9) / 20))
    if i % 25 == 2:
        return Liquidation(**head, price=100.0, size=150.0, side="sell")
    size = 400.0 if i % 20 == 3 else 1.0  # 40,000 USD: large (other bases: 20,000)
    return Trade(**head, price=100.0, size=size, side="buy", trade_id=str(i))


async def fill(redis: aredis.Redis, settings: Settings, count: int) -> None:
    producer = StreamProducer(redis)
    for i in range(count):
        producer.publish(settings.streams().raw, record(i))
    await producer.flush()
    service = LargeTradeService(settings, redis)  # writes the outputs once, acknowledged
    await service.consumer.run_until_idle()


async def rebuild_once(redis: aredis.Redis, settings: Settings, case: str) -> tuple[float, float]:
    """(ms for the rebuild, longest gap of a 1 ms ticker in ms)."""
    if case == "no group":
        await redis.xgroup_destroy(settings.streams().raw.name, GROUP)
    service = LargeTradeService(settings, redis)
    rebuilt, seconds, longest_ms = await timed_with_stall(service.rebuild(0))
    assert rebuilt.trades == rebuilt.alerts == 0, rebuilt  # nothing written twice
    return 1000 * seconds, longest_ms


async def measure(args: argparse.Namespace) -> list[Result]:
    server = LocalRedis().start()
    redis = create_redis(server.url)
    try:
        settings = load_settings(env_file=None, redis_url=server.url, stream_prefix="bench:",
                                 listing_cache_dir="", maxlen_raw=args.entries)  # fmt: skip
        await fill(redis, settings, args.entries)
        cases = ("restart", "no group")
        runs: dict[str, list[tuple[float, float]]] = {case: [] for case in cases}
        for _ in range(args.runs):
            for case in cases:
                runs[case].append(await rebuild_once(redis, settings, case))
        outputs = await redis.xlen(settings.streams().large_trades.name)
        what = f"{args.entries:,} entries, {outputs:,} large trades"
        results: list[Result] = []
        for case, measured in runs.items():
            results.append(Result(f"rebuild, {what}", "ms", [m[0] for m in measured], case))
            stalls = [m[1] for m in measured]
            results.append(Result(f"longest loop stall, {what}", "ms", stalls, case))
    finally:
        await redis.aclose()
        server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description="large-trade watcher shard rebuild benchmark")
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results = asyncio.run(measure(args))
    print(machine())
    print(table(results))


if __name__ == "__main__":
    main()
