"""A new owner of ExitBrain's shard resumes each symbol from what the former owner published
(issue 19): for every point where the shard changes hands, the status and alert entries of
the run are exactly those of one instance that ran throughout. A fresh start would not be."""

from __future__ import annotations

from typing import Any

import fakeredis
import pytest
from redis.exceptions import RedisError

from backend.domains.exits.exit_brain_v3.cross_exchange_adapter import CrossExchangeAdapter
from backend.domains.exits.exit_brain_v3.models import ExitParams
from backend.domains.exits.exit_brain_v3.resume import fold_published, read_of, resume
from microservices.ai_engine.exitbrain_shards import ExitBrainShards
from microservices.common.records import NormalizedSnapshot
from microservices.common.settings import load_settings
from microservices.common.shard_roles import ShardRole
from tests.unit.exitbrain.helpers import T0, snapshot

OKX_DOWN = {"okx": "stale"}
# (snapshot written before the read, or None; the read's clock): every fail-safe transition
STEPS: list[tuple[NormalizedSnapshot | None, int]] = [
    (snapshot(ts_ms=T0, exchange_divergence=0.05, excluded=OKX_DOWN), T0 + 1_234),  # 2 alerts
    (None, T0 + 5_321),  # ok, nothing new
    (None, T0 + 61_500),  # stale: FALLBACK_TO_LOCAL, DATA_STALE
    (None, T0 + 62_700),  # stale again: nothing
    (snapshot(ts_ms=T0 + 63_000, exchange_divergence=0.05, excluded=OKX_DOWN), T0 + 63_456),
    (snapshot(ts_ms=T0 + 64_000, num_exchanges=1), T0 + 64_100),  # missing: held, 1 failure
    (None, T0 + 65_999),  # held, 2 failures
    (None, T0 + 66_300),  # 3 failures: local
    (snapshot(ts_ms=T0 + 67_000, exchange_divergence=0.01), T0 + 67_050),  # RECOVERED, re-arm
    (snapshot(ts_ms=T0 + 68_000, exchange_divergence=0.05, excluded=OKX_DOWN), T0 + 68_500),
    (snapshot(ts_ms=T0 + 69_000, num_exchanges=1), T0 + 69_900),  # held
    (None, T0 + 200_000),  # held data too old: local
    (snapshot(ts_ms=T0 + 200_100, exchange_divergence=0.05, excluded=OKX_DOWN), T0 + 200_200),
    (None, T0 + 201_000),
]


class Clock:
    now = 0

    def __call__(self) -> int:
        return self.now


async def run(cut: int | None, resumed: bool = True) -> tuple[list[Any], list[Any]]:
    """STEPS read by one instance, or handed to a second one before step `cut` (which resumes
    from the shard's entries, or starts fresh); (statuses, alerts) written."""
    redis: Any = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    settings = load_settings(env_file=None, stream_prefix="t:")
    streams, clock = settings.streams(), Clock()

    def instance() -> ExitBrainShards:
        adapter = CrossExchangeAdapter(redis, streams, ExitParams(), clock=clock)
        return ExitBrainShards(ShardRole("exitbrain", settings, redis), adapter, streams)

    brain = instance()
    for n, (snap, at) in enumerate(STEPS):
        if n == cut:
            brain = instance()
            if resumed:
                await brain.rebuild(0)
        if snap is not None:
            await redis.xadd(streams.normalized.name, streams.normalized.schema.encode(snap))
        clock.now = at
        await brain.refresh("BTCUSDT")
    out = []
    for stream in (streams.status, streams.alerts):
        out.append([stream.schema.decode(f) for _, f in await redis.xrange(stream.name)])
    await redis.aclose()
    return out[0], out[1]


async def test_the_scenario_covers_every_alert() -> None:
    statuses, alerts = await run(None)
    assert [a.type for a in alerts] == [
        "PRICE_DIVERGENCE", "EXCHANGE_DOWN", "FALLBACK_TO_LOCAL", "DATA_STALE", "RECOVERED",
        "FALLBACK_TO_LOCAL", "RECOVERED", "PRICE_DIVERGENCE", "EXCHANGE_DOWN",
        "FALLBACK_TO_LOCAL", "RECOVERED",
    ]  # fmt: skip
    assert [s.total_reads for s in statuses] == list(range(1, len(STEPS) + 1))
    assert [s.fail_count for s in statuses] == [0, 0, 1, 2, 0, 1, 2, 3, 0, 0, 1, 2, 0, 0]


@pytest.mark.parametrize("cut", range(1, len(STEPS)))
async def test_a_new_owner_continues_as_one_instance(cut: int) -> None:
    assert await run(cut) == await run(None)


async def test_a_fresh_start_would_differ() -> None:
    single = await run(None)
    assert [await run(cut, resumed=False) == single for cut in range(1, len(STEPS))] == [False] * (
        len(STEPS) - 1
    )


async def test_without_the_snapshot_the_status_alone_resumes() -> None:
    statuses, alerts = await run(None)
    published = fold_published(statuses[:2], alerts[:2])["BTCUSDT"]
    ok = published.last_ok
    assert ok is not None and ok == statuses[1] and not published.stale_announced
    snap = STEPS[0][0]
    assert snap is not None and read_of(ok, snap)
    assert not read_of(ok, snapshot(ts_ms=T0 + 3_000, exchange_divergence=0.05))
    exact, rough = resume(ExitParams(), published, snap), resume(ExitParams(), published, None)
    assert exact.last_update_ms == T0 + 5_321  # the read's own time, from the snapshot's
    assert rough.last_update_ms == T0 + 5_000  # the status's, to the second
    assert (exact.total_reads, exact.fail_count, exact.use_local_mode) == (2, 0, False)
    assert (rough.total_reads, rough.fail_count, rough.use_local_mode) == (2, 0, False)


async def test_forgetting_a_shard_drops_its_queued_alerts_too() -> None:
    redis: Any = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    streams = load_settings(env_file=None, stream_prefix="t:").streams()
    written: list[str] = []
    down = True

    async def writer(shard: Any, fields: Any) -> None:
        if down:
            raise RedisError("down")
        written.append(str(fields["symbol"]))

    clock = Clock()
    adapter = CrossExchangeAdapter(redis, streams, ExitParams(), clock=clock, writer=writer)
    clock.now = T0
    for symbol in ("BTCUSDT", "ETHUSDT"):  # no data: FALLBACK_TO_LOCAL each, queued
        await adapter.refresh(symbol)
    assert adapter.forget(lambda s: s == "BTCUSDT") == ["BTCUSDT"]
    assert set(adapter.symbol_stats()) == {"ETHUSDT"}
    down = False
    await adapter.refresh("ETHUSDT")
    assert written == ["ETHUSDT", "ETHUSDT"]  # its queued alert, then its status
    await redis.aclose()
