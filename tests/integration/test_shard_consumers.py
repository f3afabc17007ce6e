"""Dead owners' consumer names are pruned from a leased shard's groups (issue 19), on a real
redis-server: only consumers that are idle past the limit, have nothing pending and are not
the sweeper's own name go; groups the sweeper is no member of are left alone; a leased
`ShardRole` sweeps the groups of the shards it owns (a leased feature adapter that stops
leaves no consumer name behind)."""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

import pytest
import redis.asyncio as aredis
from prometheus_client import REGISTRY

from microservices.ai_engine.features.exchange_feature_adapter import FeatureAdapter
from microservices.common.clock import now_ms
from microservices.common.producer import StreamProducer
from microservices.common.settings import Settings
from microservices.common.shard_consumers import Pruning, prune_group, prune_shard, shard_keys
from microservices.common.shard_roles import ShardRole
from tests import factories
from tests.integration.test_pipeline import publish
from tests.reliability.helpers import eventually

pytestmark = pytest.mark.integration
IDLE_MS = 150


async def consumers(redis: aredis.Redis, stream: str, group: str) -> dict[str, int]:
    """consumer name -> its pending count."""
    rows: Any = await redis.xinfo_consumers(stream, group)
    return {_text(r["name"]): int(r["pending"]) for r in rows}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def read_as(redis: aredis.Redis, stream: str, group: str, name: str, ack: bool) -> None:
    """One XREADGROUP of a new entry as consumer `name` (acknowledged or left pending)."""
    await redis.xadd(stream, {"n": "1"})
    reply: Any = await redis.xreadgroup(group, name, {stream: ">"}, count=1)
    if ack and reply:
        entry_id = reply[0][1][0][0]
        await redis.xack(stream, group, entry_id)


async def group_with_dead_and_live(redis: aredis.Redis, stream: str, *groups: str) -> None:
    for group in groups:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
        await read_as(redis, stream, group, "dead", ack=True)  # idle, nothing pending
        await read_as(redis, stream, group, "dead-pending", ack=False)  # idle, one pending
    await asyncio.sleep(IDLE_MS * 2 / 1000)  # both idle past the limit
    for group in groups:
        await read_as(redis, stream, group, "me", ack=True)
        await read_as(redis, stream, group, "live", ack=True)  # just read: not idle


async def test_only_the_idle_consumer_with_nothing_pending_goes(
    real_redis: aredis.Redis, stream_prefix: str
) -> None:
    stream, group = f"{stream_prefix}s:{{0}}", "g"
    await group_with_dead_and_live(real_redis, stream, group)
    assert await prune_group(real_redis, stream, group, "me", IDLE_MS) == ["dead"]
    assert await consumers(real_redis, stream, group) == {"dead-pending": 1, "me": 0, "live": 0}
    # the pending entry is still there to be claimed; once claimed, a later sweep takes the name
    await real_redis.xautoclaim(stream, group, "me", min_idle_time=IDLE_MS, start_id="0-0")
    assert (await consumers(real_redis, stream, group))["me"] == 1
    await asyncio.sleep(IDLE_MS * 2 / 1000)
    assert await prune_group(real_redis, stream, group, "me", IDLE_MS) == ["dead-pending", "live"]
    assert await consumers(real_redis, stream, group) == {"me": 1}


async def test_groups_without_the_own_name_and_missing_keys_are_left_alone(
    real_redis: aredis.Redis, stream_prefix: str
) -> None:
    stream = f"{stream_prefix}s:{{1}}"
    await group_with_dead_and_live(real_redis, stream, "other-role")
    assert await prune_group(real_redis, stream, "other-role", "not-a-member", IDLE_MS) == []
    assert set(await consumers(real_redis, stream, "other-role")) == {
        "dead", "dead-pending", "me", "live",
    }  # fmt: skip
    assert await prune_group(real_redis, stream, "no-such-group", "me", IDLE_MS) == []
    assert await prune_group(real_redis, f"{stream_prefix}none", "g", "me", IDLE_MS) == []


async def test_a_shard_sweep_counts_and_logs_per_group(
    real_redis: aredis.Redis, stream_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    keys = shard_keys(stream_prefix, 4, 2)
    assert f"{stream_prefix}exchange.normalized:{{2}}" in keys
    assert f"{stream_prefix}alerts" not in keys  # unsharded streams belong to no shard
    assert shard_keys(stream_prefix, 1, 0)[-1] == f"{stream_prefix}exchange.signals"
    normalized = f"{stream_prefix}exchange.normalized:{{2}}"
    await group_with_dead_and_live(real_redis, normalized, "feature_adapter", "anomaly")
    before = REGISTRY.get_sample_value("ce_shard_consumers_pruned_total", {"role": "fa"}) or 0.0
    with caplog.at_level(logging.INFO, logger="microservices.common.shard_consumers"):
        # "me" is in both groups here, so both are swept
        assert await prune_shard(real_redis, "fa", 2, keys, "me", IDLE_MS) == 2
    after = REGISTRY.get_sample_value("ce_shard_consumers_pruned_total", {"role": "fa"})
    assert after == before + 2
    logged = [r for r in caplog.records if r.getMessage() == "shard.consumers_pruned"]
    assert sorted(r.__dict__["group"] for r in logged) == ["anomaly", "feature_adapter"]
    assert {r.__dict__["consumers"] for r in logged} == {"dead"}


async def test_a_leased_role_sweeps_the_groups_of_the_shards_it_owns(
    real_redis: aredis.Redis, settings_factory: Any
) -> None:
    settings: Settings = settings_factory(
        stream_shards=2, shard_leases=True, shard_lease_ttl_ms=300, consumer_claim_idle_ms=100,
        consumer_block_ms=100,
    )  # fmt: skip
    assert Pruning.of(settings) == Pruning(min_idle_ms=600, every_s=0.6)
    # never below two blocking reads: a live consumer waits in XREADGROUP that long
    slow = settings.model_copy(update={"consumer_block_ms": 1_000})
    assert Pruning.of(slow) == Pruning(min_idle_ms=2_000, every_s=2.0)
    role = ShardRole("feature_adapter", settings, real_redis, owner="fa")
    normalized = settings.streams().normalized
    names = [normalized.shard(i).name for i in range(2)]
    for name in names:
        await real_redis.xgroup_create(name, "feature_adapter", id="0", mkstream=True)
        await read_as(real_redis, name, "feature_adapter", "fa-dead-host-1-1", ack=True)

    stop = asyncio.Event()

    async def consume(shard: int) -> None:  # the role's loop: reads as its own name
        while not stop.is_set():
            await read_as(real_redis, names[shard], "feature_adapter", role.owner, ack=True)
            await asyncio.sleep(0.05)

    task = asyncio.create_task(role.run(stop, lambda shard, token: [consume(shard)]))

    async def pruned() -> bool:
        groups = [await consumers(real_redis, n, "feature_adapter") for n in names]
        return all(set(g) == {role.owner} for g in groups)

    try:
        await eventually(pruned, 10, "the dead owner's consumer gone from both shards' groups")
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    assert role._pruners == {}


async def test_a_stopped_feature_adapters_consumers_leave_the_groups(
    real_redis: aredis.Redis, settings_factory: Any
) -> None:
    """The wiring through ShardRole: two leased feature adapters, one stops; the other takes
    its shards and, once their entries are claimed, deletes its consumer names."""
    settings: Settings = settings_factory(
        stream_shards=2, shard_leases=True, shard_lease_ttl_ms=300, consumer_claim_idle_ms=200,
        consumer_block_ms=100,
    )  # fmt: skip
    normalized = settings.streams().normalized
    labels = {"role": "feature_adapter"}
    before = REGISTRY.get_sample_value("ce_shard_consumers_pruned_total", labels) or 0.0
    adapters = [FeatureAdapter(settings, real_redis, StreamProducer(real_redis), f"fa-{n}")
                for n in (1, 2)]  # fmt: skip
    stops = [asyncio.Event(), asyncio.Event()]
    tasks = [asyncio.create_task(a.run(s)) for a, s in zip(adapters, stops, strict=True)]
    first, second = adapters

    async def members() -> list[set[str]]:
        return [set(await consumers(real_redis, s.name, "feature_adapter"))
                for s in normalized.shards_all()]  # fmt: skip

    try:
        await eventually(lambda: _true(all(len(a.role.owned) == 1 for a in adapters)), 15,
                         "one shard each")  # fmt: skip
        await publish(real_redis, normalized, [factories.snapshot(symbol=s, ts_ms=now_ms())
                                               for s in ("ETHUSDT", "BTCUSDT")])  # fmt: skip
        both = {first.role.owner, second.role.owner}
        await eventually(partial(_members_are, members, both), 15,
                         "each adapter a consumer of its shard's group")  # fmt: skip
        stops[0].set()
        await asyncio.wait_for(tasks[0], 10)
        await eventually(partial(_members_are, members, {second.role.owner}, each=True), 20,
                         "only the live adapter's consumer left in both groups")  # fmt: skip
    finally:
        for stop in stops:
            stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    after = REGISTRY.get_sample_value("ce_shard_consumers_pruned_total", labels)
    # the stopped adapter's name, in one group or in both (if it read both shards before
    # the split); the live one's never
    assert after is not None and 1 <= after - before <= 2


def _flat(groups: Any) -> set[str]:
    return set().union(*groups) if groups else set()


async def _members_are(members: Any, names: set[str], each: bool = False) -> bool:
    groups = await members()
    if each:
        return all(group == names for group in groups)
    return _flat(groups) == names


async def _true(value: bool) -> bool:
    return value
