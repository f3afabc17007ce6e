"""Shard-lease failover time: two owners share 4 shards; one dies or stops cleanly, and the
time until the other holds all 4 is measured. A private redis-server on loopback.

- death: the owner's `run` task is cancelled, with no release (its leases expire);
- clean stop: `run` ends on its stop event, then `release_all`.

    python -m benchmarks.bench_lease_failover [--ttl-ms 5000] [--runs 3]

The design bounds: death within ttl + ttl/3 of the owner's last refresh (measured here from the
cancel, so at most that); clean stop within about ttl/3, one refresh period of the survivor.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from typing import Any

from microservices.common.redis_io import create_redis
from microservices.common.redis_server import LocalRedis
from microservices.common.shard_lease import ShardLeases


async def _nothing(gained: set[int], lost: set[int]) -> None:
    return None


async def _until(check: Any) -> None:
    """Poll every 5 ms (the owners' state changes inside their own refreshes)."""
    while True:
        if check():
            return
        await asyncio.sleep(0.005)


async def once(url: str, ttl_ms: int, clean: bool) -> float:
    """Seconds from the death or clean stop of owner a until b holds all 4 shards."""
    redis = create_redis(url)
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    a, b = (ShardLeases(redis, prefix, "agg", 4, name, ttl_ms=ttl_ms) for name in "ab")
    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    task_a = asyncio.create_task(a.run(stop_a, _nothing))
    task_b = asyncio.create_task(b.run(stop_b, _nothing))
    await _until(lambda: len(a.owned) == len(b.owned) == 2)
    await asyncio.sleep(ttl_ms / 1000)  # settled: the next refresh times are arbitrary
    if clean:
        stop_a.set()
        await task_a
        start = time.monotonic()
        await a.release_all()
    else:
        start = time.monotonic()
        task_a.cancel()
    await _until(lambda: len(b.owned) == 4)
    elapsed = time.monotonic() - start
    stop_b.set()
    await task_b
    await b.release_all()
    await redis.aclose()
    return elapsed


async def main(ttl_ms: int, runs: int) -> None:
    with LocalRedis() as server:
        for clean, bound in ((False, ttl_ms * 4 / 3), (True, ttl_ms / 3)):
            times = [await once(server.url, ttl_ms, clean) * 1000 for _ in range(runs)]
            print(
                f"ttl {ttl_ms} ms, {'clean stop' if clean else 'death'}: median "
                f"{statistics.median(times):.0f} ms, min {min(times):.0f}, max {max(times):.0f} "
                f"(runs {runs}; design bound {bound:.0f} ms)"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ttl-ms", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.ttl_ms, args.runs))
