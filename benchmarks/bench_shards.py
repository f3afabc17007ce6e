"""Aggregator throughput with 1, 2 and 4 shards and 1 and 2 aggregator processes (issue 19).

For each (shards, aggregators) setting, on a flushed redis-server: start the aggregators (each
`microservices.cli aggregator` with STREAM_SHARDS and a static OWNED_SHARDS split), wait until
every shard's group exists (their rebuild of the empty shards is done), pause them (SIGSTOP),
write `--records` raw records (tickers and trades of `--symbols` symbols on three venues)
through the product's StreamProducer, resume them (SIGCONT) and time until every shard's group
has delivered and acknowledged everything: the consumers' drain rate, with nothing else
writing. records/s = records / that time; CPU per process from /proc over the same
interval. All settings run in one session, in rounds (every setting once per round), so
the machine's drift hits them alike.

    python -m benchmarks.bench_shards --records 200000 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.procs import PY, Stack, cpu_seconds, machine_busy_seconds, symbols
from microservices.common.producer import StreamProducer
from microservices.common.records import Ticker, Trade
from microservices.common.redis_io import create_redis
from microservices.common.settings import load_settings
from microservices.common.streams import Streams

VENUES = {"binance_futures": "perp", "bybit": "perp", "coinbase": "spot"}
SETUPS = ((1, 1), (2, 1), (2, 2), (4, 1), (4, 2))


def records(names: list[str], count: int) -> list[Any]:
    out: list[Any] = []
    ts = int(time.time() * 1000)
    while len(out) < count:
        ts += 1
        for symbol in names:
            for venue, market in VENUES.items():
                head: dict[str, Any] = {"exchange": venue, "market": market, "symbol": symbol,
                        "venue_symbol": symbol, "group": symbol, "quote": "USDT",
                        "ts_ms": ts, "recv_ms": ts}  # fmt: skip
                price = 100.0 + (ts % 97) / 100
                out.append(Ticker(**head, bid=price - 0.01, bid_size=1.0, ask=price + 0.01,
                                  ask_size=1.0))  # fmt: skip
                out.append(Trade(**head, price=price, size=0.1, side="buy",
                                 trade_id=f"{ts}-{venue}"))  # fmt: skip
    return out[:count]


def split(shards: int, aggregators: int) -> list[str]:
    """OWNED_SHARDS of each aggregator: contiguous, as even as the counts allow."""
    per = [shards // aggregators + (i < shards % aggregators) for i in range(aggregators)]
    out, start = [], 0
    for n in per:
        out.append(f"{start}-{start + n - 1}")
        start += n
    return out


async def groups_ready(redis: Any, streams: Streams) -> bool:
    for name in streams.raw.names():
        try:
            if not await redis.xinfo_groups(name):
                return False
        except Exception:  # the stream does not exist yet
            return False
    return True


async def caught_up(redis: Any, streams: Streams, total: int) -> bool:
    read = 0
    for name in streams.raw.names():
        [group] = await redis.xinfo_groups(name)
        if group["pending"]:
            return False
        read += int(group["entries-read"] or 0)
    return read >= total


async def one(stack: Stack, shards: int, aggregators: int, batch: list[Any]) -> dict[str, Any]:
    assert stack.redis is not None
    settings = load_settings(env_file=None, redis_url=stack.redis.url, stream_shards=shards,
                             maxlen_raw=len(batch) + 10_000)  # fmt: skip
    streams = settings.streams()
    redis = create_redis(stack.redis.url)
    await redis.flushall()
    env = stack.service_env(STREAM_SHARDS=str(shards), MAXLEN_RAW=str(len(batch) + 10_000),
                            AGGREGATOR_MIN_EXCHANGES="1")  # fmt: skip
    names = [f"aggregator-{i}" for i in range(aggregators)]
    for name, owned in zip(names, split(shards, aggregators), strict=True):
        cmd = [PY, "-m", "microservices.cli", "--env-file", "/dev/null", "aggregator"]
        stack.spawn(name, cmd, env | {"OWNED_SHARDS": owned})
    while not await groups_ready(redis, streams):
        stack.check_alive()
        await asyncio.sleep(0.1)
    pids = {name: stack.pid(name) for name in names} | {
        "redis-server": stack.pids()["redis-server"]
    }
    for name in names:  # paused while the backlog is written: the clock times consumption only
        os.kill(pids[name], signal.SIGSTOP)
    producer = StreamProducer(redis, batch_size=500)
    for record in batch:
        producer.publish(streams.raw, record)
        if producer.pending >= 5_000:
            await producer.flush()
    await producer.flush()
    cpu0 = {n: cpu_seconds(p) for n, p in pids.items()}
    busy0, started = machine_busy_seconds(), time.perf_counter()
    for name in names:
        os.kill(pids[name], signal.SIGCONT)
    while not await caught_up(redis, streams, len(batch)):  # noqa: ASYNC110 - polls Redis
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    cpu = {n: 100 * (cpu_seconds(p) - cpu0[n]) / elapsed for n, p in pids.items()}
    machine = 100 * (machine_busy_seconds() - busy0) / elapsed
    for name in names:
        stack.stop(name)
        stack.procs.pop(name)
    await redis.aclose()
    return {"rate": len(batch) / elapsed, "cpu": cpu, "machine": machine}


async def main_async(count: int, n_symbols: int, rounds: int) -> None:
    batch = records(symbols(n_symbols), count)
    stack = Stack(Path(tempfile.mkdtemp(prefix="bench-shards-")), symbols(n_symbols), 1.0)
    stack.run_dir.mkdir(parents=True, exist_ok=True)
    from microservices.common.redis_server import LocalRedis

    stack.redis = LocalRedis().start()
    results: dict[tuple[int, int], list[dict[str, Any]]] = {s: [] for s in SETUPS}
    try:
        for _ in range(rounds):
            for shards, aggregators in SETUPS:
                results[shards, aggregators].append(await one(stack, shards, aggregators, batch))
    finally:
        stack.stop()
    print("| shards | aggregators | records/s per round | median | aggregators' CPU % (median) "
          "| redis-server CPU % | machine CPU % |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for (shards, aggregators), runs in results.items():
        rates = [r["rate"] for r in runs]
        agg = statistics.median(sum(v for k, v in r["cpu"].items() if k.startswith("agg"))
                                for r in runs)  # fmt: skip
        redis_cpu = statistics.median(r["cpu"]["redis-server"] for r in runs)
        machine = statistics.median(r["machine"] for r in runs)
        print(
            f"| {shards} | {aggregators} | {' '.join(f'{x:,.0f}' for x in rates)} | "
            f"{statistics.median(rates):,.0f} | {agg:.0f} | {redis_cpu:.0f} | {machine:.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main_async(args.records, args.symbols, args.rounds))


if __name__ == "__main__":
    main()
