"""Shard leases on a real redis-server and on fakeredis (Lua through lupa): balance, failover
with new fencing tokens, the fence itself, a clean hand-over and a Redis outage."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from prometheus_client import REGISTRY

from microservices.common.redis_io import create_redis
from microservices.common.shard_lease import (
    Fenced,
    ShardLeases,
    fenced_xadd,
    lease_key,
    token_key,
)
from tests.reliability.helpers import eventually as poll_until

TTL_MS = 600
SHARDS = 4


async def eventually(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """The suite's poller, every ttl/4, for at most 15 s."""
    return await poll_until(check, 15.0, what, every_s=TTL_MS / 4000)


def leases(redis: Any, prefix: str, owner: str, **kwargs: Any) -> ShardLeases:
    return ShardLeases(redis, prefix, "aggregator", SHARDS, owner, ttl_ms=TTL_MS, **kwargs)


async def converge(a: ShardLeases, b: ShardLeases) -> None:
    async def balanced() -> bool:
        await a.refresh()
        await b.refresh()
        return len(a.owned) == len(b.owned) == 2

    await eventually(balanced, "2 + 2 shards")


def test_keys_share_the_slot_of_the_shard_streams() -> None:
    assert lease_key("p:", "aggregator", 3) == "p:lease.aggregator:{3}"
    assert token_key("p:", "aggregator", 3) == "p:lease.aggregator.token:{3}"


async def test_two_owners_converge_to_two_shards_each(any_redis: Any, stream_prefix: str) -> None:
    a = leases(any_redis, stream_prefix, "agg-a")
    b = leases(any_redis, stream_prefix, "agg-b")
    gained, lost = await a.refresh()
    assert (gained, lost, set(a.owned.values())) == ({0, 1, 2, 3}, set(), {1})
    await converge(a, b)
    assert set(a.owned) | set(b.owned) == {0, 1, 2, 3}
    for shard, token in b.owned.items():  # b took a's extras: each with the next token
        assert token == 2
        assert await any_redis.get(lease_key(stream_prefix, "aggregator", shard)) == b"2 agg-b"


async def test_a_paused_owner_loses_its_shards_and_is_fenced(
    any_redis: Any, stream_prefix: str
) -> None:
    a = leases(any_redis, stream_prefix, "agg-a")
    b = leases(any_redis, stream_prefix, "agg-b")
    await converge(a, b)
    paused = a.owned  # a stops refreshing: a GC pause, a stopped VM

    async def b_owns_all() -> bool:
        await b.refresh()
        return len(b.owned) == SHARDS

    await eventually(b_owns_all, "b to own all 4 shards")
    for shard, old in paused.items():
        assert b.owned[shard] > old  # taken with a new, larger token

    shard, old_token = next(iter(paused.items()))
    stream = f"{stream_prefix}x:{{{shard}}}"
    written = await fenced_xadd(
        any_redis, b.lease_key(shard), b.owned[shard], stream, 1000, [{"a": "1"}, {b"b": b"2"}]
    )
    assert written == 2
    fenced_before = REGISTRY.get_sample_value("ce_fenced_writes_total") or 0.0
    with pytest.raises(Fenced):
        await fenced_xadd(any_redis, a.lease_key(shard), old_token, stream, 1000, [{"a": "3"}])
    assert await any_redis.xlen(stream) == 2
    assert REGISTRY.get_sample_value("ce_fenced_writes_total") == fenced_before + 1
    rows = await any_redis.xrange(stream)
    assert [fields for _, fields in rows] == [{b"a": b"1"}, {b"b": b"2"}]

    gained, lost = await a.refresh()  # a wakes up: its renews fail, it reports them lost
    assert lost == set(paused) and not gained & set(paused)


async def test_release_all_hands_the_shards_over_at_once(
    any_redis: Any, stream_prefix: str
) -> None:
    a = leases(any_redis, stream_prefix, "agg-a")
    b = leases(any_redis, stream_prefix, "agg-b")
    await converge(a, b)
    mine = set(a.owned)
    labels = {"role": "aggregator", "change": "gained"}
    gained_before = REGISTRY.get_sample_value("ce_shard_lease_changes_total", labels) or 0.0
    assert await a.release_all() == mine
    assert a.owned == {}
    gained, lost = await b.refresh()  # one refresh, no ttl to wait for
    assert (gained, lost, set(b.owned)) == (mine, set(), {0, 1, 2, 3})
    assert REGISTRY.get_sample_value("ce_shard_leases_owned", {"role": "aggregator"}) == 4
    assert REGISTRY.get_sample_value("ce_shard_lease_changes_total", labels) == gained_before + 2
    shard = next(iter(mine))
    with pytest.raises(Fenced):  # a released lease fences every token
        await fenced_xadd(
            any_redis, a.lease_key(shard), 1, f"{stream_prefix}x:{{{shard}}}", 10, [{"f": "v"}]
        )


async def test_fixed_ownership_needs_no_redis() -> None:
    fixed = ShardLeases(None, "p:", "features", SHARDS, "fx", fixed=frozenset({1, 3}))
    assert await fixed.refresh() == ({1, 3}, set())
    assert await fixed.refresh() == (set(), set())
    assert fixed.owned == {1: 0, 3: 0}
    assert await fixed.release_all() == {1, 3}
    with pytest.raises(ValueError, match="outside"):
        ShardLeases(None, "p:", "features", 2, "fx", fixed=frozenset({2}))


async def test_a_redis_outage_reports_the_shards_lost_and_stop_still_ends_run(
    local_redis: Any, stream_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    server = local_redis()
    client = create_redis(server.url, socket_timeout_s=1.0)
    owner = leases(client, stream_prefix, "agg-a")
    changes: list[tuple[set[int], set[int]]] = []

    async def on_change(gained: set[int], lost: set[int]) -> None:
        changes.append((gained, lost))

    stop = asyncio.Event()
    task = asyncio.create_task(owner.run(stop, on_change))
    try:
        await eventually(lambda: asyncio.sleep(0, len(owner.owned) == SHARDS), "4 shards")
        caplog.set_level(logging.INFO, logger="microservices.common.shard_lease")
        server.kill()
        await eventually(lambda: asyncio.sleep(0, owner.owned == {}), "the shards lost")
        assert changes[0] == ({0, 1, 2, 3}, set())  # renewed together: lost together
        assert changes[1:] == [(set(), {0, 1, 2, 3})]
        reasons = {r.reason for r in caplog.records if r.getMessage() == "lease.lost"}  # type: ignore[attr-defined]
        assert reasons == {"stale"}  # unreachable: given up by its own deadline
        assert not task.done()  # no crash
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)  # ends promptly (a hang guard, not a measurement)
        await client.aclose()


async def test_a_slow_on_change_does_not_hold_back_the_renewals(
    any_redis: Any, stream_prefix: str
) -> None:
    """A role rebuilding a gained shard for longer than the ttl keeps its leases."""
    a = leases(any_redis, stream_prefix, "agg-a")
    rebuilt = asyncio.Event()
    seen: list[tuple[set[int], set[int]]] = []

    async def slow_rebuild(gained: set[int], lost: set[int]) -> None:
        seen.append((gained, lost))
        await rebuilt.wait()

    stop = asyncio.Event()
    task = asyncio.create_task(a.run(stop, slow_rebuild))
    try:
        await eventually(lambda: asyncio.sleep(0, seen), "the first change")
        tokens = a.owned
        b = leases(any_redis, stream_prefix, "agg-b")
        for _ in range(8):  # 2 ttl while a's callback is still busy: b takes only a's extras
            await b.refresh()
            await asyncio.sleep(TTL_MS / 4000)
            assert set(b.owned).isdisjoint(a.owned)
        assert len(a.owned) == 2 and all(a.owned[s] == tokens[s] for s in a.owned)
        assert seen == [({0, 1, 2, 3}, set())]  # the release of the extras waits its turn
        rebuilt.set()
        await eventually(lambda: asyncio.sleep(0, len(seen) == 2), "the queued change")
        assert seen[1] == (set(), set(tokens) - set(a.owned))
    finally:
        rebuilt.set()
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_leases_and_fenced_writes_on_a_redis_cluster(
    cluster_redis: Any, stream_prefix: str
) -> None:
    """Every script touches one slot (`{<shard>}`): no CROSSSLOT, routed to the shard's node."""
    a = leases(cluster_redis, stream_prefix, "agg-a")
    b = leases(cluster_redis, stream_prefix, "agg-b")
    await converge(a, b)
    assert set(a.owned) | set(b.owned) == {0, 1, 2, 3}
    for owner in (a, b):
        for shard, token in owner.owned.items():
            stream = f"{stream_prefix}x:{{{shard}}}"
            entries = [{"shard": str(shard)}, {"token": str(token)}]
            assert (
                await fenced_xadd(
                    cluster_redis, owner.lease_key(shard), token, stream, 100, entries
                )
                == 2
            )
    shard, token = next(iter(a.owned.items()))
    stream = f"{stream_prefix}x:{{{shard}}}"
    with pytest.raises(Fenced):  # b's lease on a's shard: a's token does not pass it
        await fenced_xadd(cluster_redis, b.lease_key(shard), token + 1, stream, 100, [{"f": "v"}])
    assert await cluster_redis.xlen(stream) == 2
    await a.release_all()
    await b.refresh()
    assert set(b.owned) == {0, 1, 2, 3} and b.owned[shard] > token


async def test_the_scripts_are_loaded_again_after_a_script_flush(
    any_redis: Any, stream_prefix: str
) -> None:
    """A restarted or failed-over node has an empty script cache (NOSCRIPT)."""
    a = leases(any_redis, stream_prefix, "agg-a")
    await a.refresh()
    await any_redis.script_flush()
    assert await a.refresh() == (set(), set())  # renewed, nothing lost
    await any_redis.script_flush()
    stream = f"{stream_prefix}x:{{0}}"
    assert await fenced_xadd(any_redis, a.lease_key(0), a.owned[0], stream, 10, [{"f": "v"}]) == 1
    with pytest.raises(ValueError, match="at least one field"):
        await fenced_xadd(any_redis, a.lease_key(0), a.owned[0], stream, 10, [{}])
    assert await fenced_xadd(any_redis, a.lease_key(0), a.owned[0], stream, 10, []) == 0
    assert await any_redis.xlen(stream) == 1


async def test_a_cancelled_run_always_ends(real_redis: Any, stream_prefix: str) -> None:
    """A cancel landing inside a Redis command can come back from redis-py as a normal return;
    `run` still ends (without the guard 5 of 150 such cancels kept it looping)."""

    async def on_change(gained: set[int], lost: set[int]) -> None:
        await asyncio.sleep(0)

    for i in range(60):
        owner = ShardLeases(real_redis, f"{stream_prefix}{i}:", "agg", SHARDS, "a", ttl_ms=300)
        task = asyncio.create_task(owner.run(asyncio.Event(), on_change))
        await asyncio.sleep(i * 0.003)  # 0 to 180 ms: lands in commands and in waits
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=5)  # a hang guard, not a measurement
        assert done and task.cancelled(), f"run {i} went on after its cancel"
