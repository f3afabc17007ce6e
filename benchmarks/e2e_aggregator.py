"""The aggregator process of the end-to-end benchmark: the product's AggregatorService with
its handler and producer wrapped to measure latency (benchmark-only; no product code path).

For every record folded in the measuring window [start, end] (epoch ms, wall clock):
- event -> state: now_ms() after `CrossExchangeState.update` minus the record's `ts_ms`
  (the simulator's event time);
- receive -> state: the same minus `recv_ms` (when the collector received the frame);
- Redis -> state: the same minus the entry id's time (when Redis added the entry), which
  splits receive -> state into the collector's share and the aggregator's;
- event -> normalized: when the next `exchange.normalized` entry of its symbol was written to
  Redis (after the producer's write returned) minus `ts_ms`.
On SIGTERM it stops like the real service and writes percentiles and counts to `--out`.

    python -m benchmarks.e2e_aggregator --out FILE --start MS --end MS
"""

from __future__ import annotations

import argparse
import asyncio
from array import array
from collections import deque
from pathlib import Path
from typing import Any

import orjson

from microservices.ai_engine.aggregator_service import AggregatorService
from microservices.common.clock import now_ms
from microservices.common.lifecycle import run_until_stopped
from microservices.common.producer import Pending, StreamProducer
from microservices.common.records import NormalizedSnapshot, RawRecord
from microservices.common.redis_io import create_redis
from microservices.common.settings import Settings, load_settings


class Probe:
    def __init__(self, start_ms: int, end_ms: int) -> None:
        self.start_ms, self.end_ms = start_ms, end_ms
        self.event = array("q")
        self.recv = array("q")
        self.redis = array("q")
        self.normalized = array("q")
        self.handled = 0
        self.in_window = 0
        self.pending: dict[str, list[int]] = {}  # symbol -> ts_ms folded since last emit
        self.waiting: deque[list[int]] = deque()  # per emitted snapshot, oldest first

    def folded(self, batch: list[tuple[str, RawRecord]]) -> None:
        now = now_ms()
        self.handled += len(batch)
        if not self.start_ms <= now <= self.end_ms:
            return
        self.in_window += len(batch)
        event, recv, pending = self.event.append, self.recv.append, self.pending
        added = self.redis.append
        for entry_id, record in batch:
            event(now - record.ts_ms)
            recv(now - record.recv_ms)
            added(now - int(entry_id.partition("-")[0]))
            group = pending.get(record.symbol)
            if group is None:
                group = pending[record.symbol] = []
            group.append(record.ts_ms)

    def emitted(self, snapshots: list[NormalizedSnapshot]) -> None:
        for snap in snapshots:
            self.waiting.append(self.pending.pop(snap.symbol, []))

    def written(self, count: int) -> None:
        done = now_ms()
        for _ in range(min(count, len(self.waiting))):
            self.normalized.extend(done - ts for ts in self.waiting.popleft())

    def summary(self) -> dict[str, Any]:
        return {
            "handled": self.handled,
            "in_window": self.in_window,
            "event_to_state_ms": percentiles(self.event),
            "recv_to_state_ms": percentiles(self.recv),
            "redis_to_state_ms": percentiles(self.redis),
            "event_to_normalized_ms": percentiles(self.normalized),
        }


def percentiles(values: array[int]) -> dict[str, float]:
    if not values:
        return {}
    data = sorted(values)

    def pick(q: float) -> float:
        return float(data[min(len(data) - 1, int(q * len(data)))])

    return {"n": len(data), "p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99),
            "p999": pick(0.999), "max": float(data[-1])}  # fmt: skip


class TimedProducer(StreamProducer):
    def __init__(self, probe: Probe, normalized: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.probe, self.normalized = probe, normalized

    async def _write(self, batch: list[Pending]) -> None:
        await super()._write(batch)
        self.probe.written(sum(1 for item in batch if item[0] == self.normalized))


class TimedAggregator(AggregatorService):
    probe: Probe

    async def handle(self, batch: list[tuple[str, RawRecord]]) -> None:
        await super().handle(batch)
        if not SHARDED:
            self.probe.folded(batch)

    def emit(self, now: int | None = None) -> list[NormalizedSnapshot]:
        snapshots = super().emit(now)
        self.probe.emitted(snapshots)
        return snapshots


def time_shard_units(probe: Probe) -> bool:
    """With stream sharding the consumers call `ShardUnit.handle` (bound when a unit is
    built): wrap it at class level before the service builds its units. False when this
    build has no shard units (the service's own `handle` is then the consumer's handler)."""
    try:
        from microservices.ai_engine import aggregator_shards
    except ImportError:
        return False
    unit = aggregator_shards.ShardUnit
    original = unit.handle

    async def handle(self: Any, batch: list[tuple[str, RawRecord]]) -> None:
        await original(self, batch)
        probe.folded(batch)

    unit.handle = handle  # type: ignore[method-assign]
    return True


SHARDED = False


async def main(settings: Settings, probe: Probe, out: Path, stop: asyncio.Event) -> None:
    assert settings.redis_url is not None
    global SHARDED
    SHARDED = time_shard_units(probe)
    redis = create_redis(settings.redis_url, socket_timeout_s=settings.redis_socket_timeout_s)
    normalized = settings.streams().normalized.name
    producer = TimedProducer(probe, normalized, redis, batch_size=settings.producer_batch_size)
    service = TimedAggregator(settings, redis, producer)
    service.probe = probe
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(producer.run(stop), name="producer")
            group.create_task(service.run(stop), name="aggregator")
    finally:
        await redis.aclose()
        summary = orjson.dumps({**probe.summary(), "emitted": service.emitted})
        await asyncio.to_thread(out.write_bytes, summary)


def cli() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--start", type=int, required=True)
    parser.add_argument("--end", type=int, required=True)
    ns = parser.parse_args()
    settings = load_settings(env_file=None)
    probe = Probe(ns.start, ns.end)
    run_until_stopped(lambda stop: main(settings, probe, ns.out, stop))


if __name__ == "__main__":
    cli()
