"""Pruning the consumer names dead owners leave in a leased shard's consumer groups.

A leased owner names its consumers after its process (`ShardRole.owner`: role, host, pid), so
every new owner of a shard adds a consumer to each group it reads there, and the dead ones'
names would pile up (`XINFO CONSUMERS`, the lag dashboards). While a role owns a shard it
sweeps that shard's groups it is a member of (`ShardRole` runs `Pruning.loop`): a consumer that
is not its own, has no pending entry and has been idle longer than twice the lease TTL is
deleted (XGROUP DELCONSUMER), counted in `ce_shard_consumers_pruned_total` and logged as
`shard.consumers_pruned`.

A consumer with pending entries is never deleted (DELCONSUMER drops them: they would never be
delivered again); the new owner claims them first (XAUTOCLAIM after CONSUMER_CLAIM_IDLE_MS),
and a later sweep deletes the emptied name. The check and the delete run in one Lua script,
so an entry delivered between them cannot be dropped. The sweep looks only at groups that
hold the role's own consumer name, which is unique to this process and role: other roles'
groups on the same stream are left alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from prometheus_client import Counter
from redis.exceptions import ResponseError

from microservices.common.lease_scripts import Script
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS
from microservices.common.streams import build_streams

logger = logging.getLogger(__name__)

# KEYS: stream. ARGV: group, own consumer name, min idle ms. The names deleted; none when the
# group does not hold the own name (another role's group).
PRUNE_CONSUMERS: Final = """
local rows = redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
local mine, dead = false, {}
for _, row in ipairs(rows) do
  local c = {}
  for i = 1, #row, 2 do c[row[i]] = row[i + 1] end
  if c['name'] == ARGV[2] then
    mine = true
  elseif tonumber(c['pending']) == 0 and tonumber(c['idle']) > tonumber(ARGV[3]) then
    table.insert(dead, c['name'])
  end
end
if not mine then return {} end
for _, name in ipairs(dead) do redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name) end
return dead
"""
PRUNE_CONSUMERS_SCRIPT: Final = Script(PRUNE_CONSUMERS)

CONSUMERS_PRUNED: Final = Counter(
    "ce_shard_consumers_pruned_total",
    "Consumers of dead shard owners deleted from a shard's groups (idle, nothing pending)",
    ["role"],
)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def prune_group(redis: Any, stream: str, group: str, own: str, min_idle_ms: int) -> list[str]:
    """Delete the consumers of `group` on `stream` other than `own` that have no pending
    entry and have been idle longer than `min_idle_ms`; the names deleted. Nothing when
    `own` is not a member of the group, or the group or stream is gone."""
    try:
        names = await PRUNE_CONSUMERS_SCRIPT(redis, [stream], [group, own, min_idle_ms])
    except ResponseError as exc:
        if "NOGROUP" in str(exc) or "no such key" in str(exc):
            return []
        raise
    return [_text(name) for name in names or []]


async def _groups(redis: Any, stream: str) -> list[str]:
    try:
        rows: Any = await redis.xinfo_groups(stream)
    except ResponseError:  # no such key: nothing written to this shard yet
        return []
    return [_text(row["name"]) for row in rows]


async def prune_shard(
    redis: Any, role: str, shard: int, streams: Sequence[str], own: str, min_idle_ms: int
) -> int:
    """Prune every group of `streams` (one shard's keys) that `own` is a member of; the
    number of consumers deleted (counted and logged per group)."""
    total = 0
    for stream in streams:
        for group in await _groups(redis, stream):
            pruned = await prune_group(redis, stream, group, own, min_idle_ms)
            if not pruned:
                continue
            total += len(pruned)
            CONSUMERS_PRUNED.labels(role).inc(len(pruned))
            logger.info("shard.consumers_pruned", extra={
                "role": role, "shard": shard, "stream": stream, "group": group,
                "consumers": ",".join(pruned),
            })  # fmt: skip
    return total


def shard_keys(prefix: str, shards: int, shard: int) -> list[str]:
    """Shard `shard`'s key of every sharded stream (of every stream when there is one shard)."""
    every = build_streams(prefix, shards=shards).all()
    return [s.shard(shard).name for s in every if s.shards == shards]


@dataclass(frozen=True, slots=True)
class Pruning:
    """When a leased role sweeps a shard: consumers idle longer than `min_idle_ms` (2 lease
    TTLs; never below 2 XREADGROUP blocks, which a live consumer may spend waiting) go, every
    `every_s` (the first sweep after `every_s`, once the dead owner's pending entries have
    been claimed: CONSUMER_CLAIM_IDLE_MS)."""

    min_idle_ms: int
    every_s: float

    @classmethod
    def of(cls, settings: Any) -> Pruning:
        block_ms = getattr(settings, "consumer_block_ms", 1_000)
        idle_ms = 2 * max(settings.shard_lease_ttl_ms, block_ms)
        claim_ms = getattr(settings, "consumer_claim_idle_ms", 30_000)
        return cls(idle_ms, max(idle_ms, claim_ms) / 1000)

    async def loop(self, redis: Any, role: str, own: str, shard: int, keys: list[str]) -> None:
        """Sweep the groups of `keys` (one shard's) until cancelled; a Redis error waits for
        the next sweep."""
        while True:
            await asyncio.sleep(self.every_s)
            try:
                await prune_shard(redis, role, shard, keys, own, self.min_idle_ms)
            except (*TRANSIENT_REDIS_ERRORS, ResponseError) as exc:
                logger.debug("shard.prune_failed", extra={"role": role, "error": repr(exc)})
