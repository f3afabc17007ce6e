"""ExitBrain's leased shards on a real redis-server (issue 19): when owner A loses a shard to
B, A publishes nothing more for its symbols and keeps none of their state; B's
exitbrain.status:{i} continues A's (each symbol's total_reads 1, 2, 3, ... with no restart
and no repeat) and no alert is announced again; the same when the shard moves back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from functools import partial
from typing import Any

import pytest
import redis.asyncio as aredis

from backend.domains.exits.exit_brain_v3.cross_exchange_adapter import CrossExchangeAdapter
from microservices.ai_engine.engine import EXITBRAIN_ROLE, exit_params
from microservices.ai_engine.exitbrain_loop import owned_only, run_exitbrain_loop
from microservices.ai_engine.exitbrain_shards import ExitBrainShards
from microservices.common.clock import now_ms
from microservices.common.settings import Settings
from microservices.common.shard_publisher import fenced_writer
from microservices.common.shard_roles import ShardRole
from microservices.common.sharding import shard_of
from microservices.common.streams import Stream
from tests import factories
from tests.integration.test_pipeline import publish
from tests.reliability.helpers import eventually

pytestmark = pytest.mark.integration
SYMBOLS = ("ETHUSDT", "BNBUSDT", "BTCUSDT", "ADAUSDT")  # home shards of 2: 0, 0, 1, 1


class Brain:
    """One ExitBrain process as the engine wires it (role, fenced adapter, shards, loop),
    noting every write it attempts."""

    def __init__(self, settings: Settings, redis: aredis.Redis, name: str) -> None:
        streams = settings.streams()
        self.role = ShardRole(EXITBRAIN_ROLE, settings, redis, owner=name)
        self.attempts: list[str] = []  # symbols, in the order written (or refused)
        self.adapter = CrossExchangeAdapter(redis, streams, exit_params(settings),
                                            writer=self._write)  # fmt: skip
        self.shards = ExitBrainShards(self.role, self.adapter, streams)
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self._run(settings.exitbrain_interval_s))

    async def _write(self, shard: Stream[Any], fields: Mapping[Any, Any]) -> None:
        self.attempts.append(str(fields["symbol"]))
        await fenced_writer(self.role, shard, fields)

    async def _run(self, interval_s: float) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self.role.run(self.stop, self.shards.start))
            symbols = owned_only(SYMBOLS, self.shards.owns)
            await run_exitbrain_loop(self.shards, symbols, interval_s, self.stop)

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 10)


async def feed(redis: aredis.Redis, settings: Settings, stop: asyncio.Event) -> None:
    """Fresh snapshots of every symbol, divergent and with okx excluded (one PRICE_DIVERGENCE
    and one EXCHANGE_DOWN per symbol, announced once by one instance)."""
    while not stop.is_set():
        now = now_ms()
        await publish(redis, settings.streams().normalized, [
            factories.snapshot(symbol=s, ts_ms=now, exchange_divergence=0.05) for s in SYMBOLS
        ])  # fmt: skip
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.05)


async def outputs(redis: aredis.Redis, settings: Settings, shard: int) -> dict[str, Any]:
    """symbol -> (its total_reads in status:{shard}, its alert types in alerts:{shard})."""
    streams = settings.streams()
    out: dict[str, Any] = {s: ([], []) for s in SYMBOLS if shard_of(s, 2) == shard}
    for stream, kind in ((streams.status, 0), (streams.alerts, 1)):
        rows: Any = await redis.xrange(stream.shard(shard).name)
        for _, fields in rows:
            record = stream.schema.decode(fields)
            out[record.symbol][kind].append(record.total_reads if kind == 0 else record.type)
    return out


def continued(out: dict[str, Any], at_least: int) -> bool:
    """Each symbol read at least `at_least` times, counted 1, 2, 3, ... without a gap or a
    repeat, and each alert announced once."""
    return all(
        len(reads) >= at_least
        and reads == list(range(1, len(reads) + 1))
        and sorted(alerts) == ["EXCHANGE_DOWN", "PRICE_DIVERGENCE"]
        for reads, alerts in out.values()
    )


async def test_a_lost_shard_goes_quiet_and_its_new_owner_continues(
    real_redis: aredis.Redis, settings_factory: Any
) -> None:
    assert [shard_of(s, 2) for s in SYMBOLS] == [0, 0, 1, 1]
    settings: Settings = settings_factory(
        stream_shards=2, shard_leases=True, shard_lease_ttl_ms=600, exitbrain_interval_s=0.1,
    )  # fmt: skip
    stop_feed = asyncio.Event()
    feeder = asyncio.create_task(feed(real_redis, settings, stop_feed))
    a = Brain(settings, real_redis, "a")
    b: Brain | None = None
    try:
        await eventually(lambda: _true(sorted(a.shards.ready) == [0, 1]), 15, "A owning both")
        for shard in (0, 1):
            await eventually(partial(_outputs_ok, real_redis, settings, shard, 3), 15,
                             f"A's status in shard {shard}")  # fmt: skip
        b = Brain(settings, real_redis, "b")
        await eventually(lambda: _true(len(a.role.owned) == 1 and len(b.shards.ready) == 1), 20,
                         "A and B owning one shard each")  # fmt: skip
        moved = next(iter(b.shards.ready))
        gone = {s for s in SYMBOLS if shard_of(s, 2) == moved}
        quiet_since = len([s for s in a.attempts if s in gone])
        before = {s: len(reads) for s, (reads, _) in
                  (await outputs(real_redis, settings, moved)).items()}  # fmt: skip
        await eventually(lambda: _outputs_ok(real_redis, settings, moved, max(before.values()) + 5),
                         15, "B's status continuing A's")  # fmt: skip
        # A published (and tried) nothing more for the moved symbols, and holds no state of them
        assert len([s for s in a.attempts if s in gone]) == quiet_since
        assert gone.isdisjoint(a.adapter.symbol_stats())
        assert gone <= set(b.adapter.symbol_stats())
        assert a.shards.ready.keys() == {1 - moved}
        # B stops cleanly: the shard moves back to A, which continues B's counts in turn
        await b.close()
        b_total = {s: len(reads) for s, (reads, _) in
                   (await outputs(real_redis, settings, moved)).items()}  # fmt: skip
        await eventually(lambda: _true(sorted(a.shards.ready) == [0, 1]), 15, "A owning both")
        await eventually(lambda: _outputs_ok(real_redis, settings, moved, max(b_total.values()) + 3),
                         15, "A's status continuing B's")  # fmt: skip
    finally:
        stop_feed.set()
        await a.close()
        if b is not None:
            await b.close()
        await feeder
    for shard in (0, 1):
        assert continued(await outputs(real_redis, settings, shard), 3)


async def _outputs_ok(redis: aredis.Redis, settings: Settings, shard: int, reads: int) -> bool:
    return continued(await outputs(redis, settings, shard), reads)


async def _true(value: bool) -> bool:
    return value
