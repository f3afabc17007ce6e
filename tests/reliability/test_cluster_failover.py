"""Two aggregator processes on a real 3-master Redis Cluster, 4 shards, leases; one is killed.

The test starts two `cross-exchange aggregator` processes with STREAM_SHARDS=4 and
SHARD_LEASES on the cluster of `tests/redis_cluster.py`, waits until they own two shards
each, publishes raw records of four symbols (one per shard) at a steady rate, SIGKILLs the
aggregator that owns BTCUSDT's shard and keeps publishing. Then: the survivor holds all four
leases (the dead one's with new, larger fencing tokens), every shard's group has delivered
every entry with nothing pending (no entry lost), and the newest normalized entry of each
symbol in its home shard equals, field for field, the snapshot of an in-process aggregator
that folded every distinct raw entry exactly once, evaluated at the same instant.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest
import redis.asyncio as aredis

from microservices.ai_engine.aggregator_shards import new_state
from microservices.common.clock import now_ms
from microservices.common.derived_schemas import NORMALIZED
from microservices.common.producer import StreamProducer
from microservices.common.settings import Settings, load_settings
from microservices.common.shard_lease import lease_key
from microservices.common.sharding import shard_of
from microservices.common.streams import Streams
from tests.redis_cluster import LocalRedisCluster
from tests.reliability.helpers import Services, eventually, measure, service_env
from tests.reliability.test_aggregator_kill import Market, publish_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]
# one symbol per shard of 4: ETHUSDT 0, ADAUSDT 1, BNBUSDT 2, BTCUSDT 3
START = {"ETHUSDT": 3_200.0, "ADAUSDT": 0.5, "BNBUSDT": 600.0, "BTCUSDT": 65_000.0}
VENUES = {"binance_futures": "perp", "bybit": "perp", "coinbase": "spot"}
SETTINGS = {
    "symbols": tuple(START),
    "venues": tuple(VENUES),
    "stream_shards": 4,
    "shard_leases": "true",
    "shard_lease_ttl_ms": 1_500,
    "redis_cluster": "true",
    "maxlen_raw": 1_000_000,
    "consumer_batch_size": 50,
    "consumer_block_ms": 200,
    # windows longer than the test: the final snapshot (volume, volatility) depends on every
    # entry since the start, the dead owner's included, not only on the newest quotes
    "aggregator_volume_window_s": 600.0,
    "aggregator_vol_long_window_s": 600.0,
}


async def leases(redis: aredis.Redis, prefix: str) -> dict[int, tuple[int, str]]:
    """shard -> (token, owner) of the aggregator's held leases."""
    held: dict[int, tuple[int, str]] = {}
    for shard in range(4):
        value: Any = await redis.get(lease_key(prefix, "aggregator", shard))
        if value is not None:
            token, owner = value.decode().split(" ", 1)
            held[shard] = (int(token), owner)
    return held


async def split_two_two(redis: aredis.Redis, prefix: str) -> dict[int, tuple[int, str]] | None:
    held = await leases(redis, prefix)
    owners = [owner for _, owner in held.values()]
    ok = len(held) == 4 and sorted(owners.count(o) for o in set(owners)) == [2, 2]
    return held if ok else None


def owns(owner: str, pid: int) -> bool:
    return owner.split("-")[-2] == str(pid)  # owner ids: aggregator-1-<host>-<pid>-<n>


async def caught_up(redis: aredis.Redis, streams: Streams) -> bool:
    """Every shard's group has delivered its newest entry and holds nothing pending."""
    for shard in streams.raw.shards_all():
        with contextlib.suppress(aredis.ResponseError):
            [group] = await redis.xinfo_groups(shard.name)
            newest: Any = await redis.xrevrange(shard.name, count=1)
            if group["pending"] or group["last-delivered-id"] != newest[0][0]:
                return False
            continue
        return False
    return True


async def last_normalized(
    redis: aredis.Redis, streams: Streams, after_ms: int
) -> dict[str, dict[str, str]] | None:
    """The newest normalized entry of each symbol in its home shard computed after
    `after_ms` (its `timestamp`: the aggregator's clock when it polled)."""
    newest: dict[str, dict[str, str]] = {}
    for symbol in START:
        rows: Any = await redis.xrevrange(streams.normalized.shard_for(symbol).name, count=50)
        for _, raw in rows:
            fields = {k.decode(): v.decode() for k, v in raw.items()}
            if fields["symbol"] == symbol and round(float(fields["timestamp"]) * 1000) > after_ms:
                newest[symbol] = fields
                break
    return newest if set(newest) == set(START) else None


async def every_raw_entry(redis: aredis.Redis, streams: Streams) -> list[dict[bytes, bytes]]:
    rows: list[dict[bytes, bytes]] = []
    for shard in streams.raw.shards_all():
        entries: Any = await redis.xrange(shard.name)
        rows += [fields for _, fields in entries]
    return rows


async def test_killed_aggregator_hands_its_shards_over_on_a_redis_cluster(
    redis_cluster: LocalRedisCluster, cluster_redis: aredis.Redis, stream_prefix: str,
    services: Services,
) -> None:  # fmt: skip
    settings: Settings = load_settings(
        env_file=None, redis_url=redis_cluster.url, stream_prefix=stream_prefix, **SETTINGS
    )
    streams = settings.streams()
    env = service_env(redis_cluster.url, stream_prefix, **SETTINGS)
    first = services.start("aggregator", env, name="aggregator-a")
    second = services.start("aggregator", env, name="aggregator-b")
    held = await eventually(lambda: split_two_two(cluster_redis, stream_prefix), 60,
                            "two aggregators to own two shards each")  # fmt: skip
    producer, market = StreamProducer(cluster_redis), Market(START, VENUES, seed=19)
    await publish_for(producer, streams, market, 1.5)
    btc_shard = shard_of("BTCUSDT", 4)
    victim_owner = held[btc_shard][1]
    victim, survivor = (first, second) if owns(victim_owner, first.pid) else (second, first)
    assert owns(victim_owner, victim.pid), (victim_owner, first.pid, second.pid)
    moved = {shard for shard, (_, owner) in held.items() if owner == victim_owner}
    victim.kill()
    killed_at = time.monotonic()
    await publish_for(producer, streams, market, 1.0)  # published while its shards are orphans

    async def survivor_owns_all() -> dict[int, tuple[int, str]] | None:
        now = await leases(cluster_redis, stream_prefix)
        owners = {owner for _, owner in now.values()}
        everything = len(now) == 4 and len(owners) == 1 and owns(owners.pop(), survivor.pid)
        return now if everything else None

    taken = await eventually(survivor_owns_all, 30, "the survivor to take the dead one's shards")
    failover_s = time.monotonic() - killed_at
    assert all(taken[s][0] > held[s][0] for s in moved)  # new leases: larger fencing tokens
    assert all(taken[s][0] == held[s][0] for s in set(range(4)) - moved)  # kept ones: same
    await publish_for(producer, streams, market, 1.0)
    await eventually(lambda: caught_up(cluster_redis, streams), 30, "every shard consumed")
    settled_ms = now_ms()
    finals = await eventually(lambda: last_normalized(cluster_redis, streams, settled_ms), 10,
                              "a normalized entry per symbol after the catch-up")  # fmt: skip
    assert await survivor.terminate() == 0
    assert await caught_up(cluster_redis, streams)  # nothing left pending or undelivered

    rows = await every_raw_entry(cluster_redis, streams)
    assert len(rows) == market.records  # each record once
    reference = new_state(settings)
    for fields in rows:
        reference.update(streams.raw.schema.decode(fields))
    for symbol, entry in finals.items():
        expected = reference.snapshot(symbol, round(float(entry["timestamp"]) * 1000))
        assert expected is not None and expected.num_exchanges == 3
        wire = NORMALIZED.encode(expected)
        diff = {k: (entry.get(k), wire.get(k)) for k in entry.keys() | wire.keys()
                if entry.get(k) != wire.get(k)}  # fmt: skip
        assert diff == {}, (symbol, diff)
    rebuilt = {e.get("shard") for e in survivor.events("aggregator.shard_rebuilt")}
    assert moved <= rebuilt
    measure(
        "Aggregator failover on Redis Cluster",
        f"SIGKILL of 1 of 2 aggregators (3 masters, 4 shards, {len(moved)} moved), "
        f"~{len(START) * len(VENUES) * 2 * 50} records/s",
        "0 entries (every shard delivered, nothing pending; normalized equal to one pass)",
        failover_s,
        "test_cluster_failover",
        entries=len(rows),
    )
