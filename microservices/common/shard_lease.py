"""Shard ownership of one role (aggregator, feature adapter, ExitBrain): static or leased.

Static (`fixed`): the configured shards are owned with token 0, never lost, no Redis keys.
Dynamic: each owner announces itself in the ZSET `<prefix>lease.<role>.members` (owner ->
expiry ms, pruned of the expired) and aims at its fair share `ceil(shards / live owners)`
(`shard_balance.balance`): it renews what it holds, gives up its extras and takes free shards.
A lease is taken with a new fencing token (INCR of a per-shard counter, so tokens only grow);
writes go through `fenced_xadd`, which refuses a stale token, so a paused former owner writes
nothing. A shard counts as lost as soon as its renew says it is gone or taken, and when the
last good renew is older than ttl - margin (Redis unreachable): before its lease can expire
and be taken by another owner. An owner that dies loses its shards after at most ttl; one
that stops cleanly (`release_all`) hands them over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from prometheus_client import Counter, Gauge
from redis.exceptions import RedisError

from microservices.common.clock import now_ms
from microservices.common.lease_scripts import (
    ACQUIRE_SCRIPT,
    RELEASE_SCRIPT,
    RENEW_SCRIPT,
    Fenced,
    fenced_xadd,
)
from microservices.common.shard_balance import balance

__all__ = ["Fenced", "ShardLeases", "fenced_xadd", "lease_key", "token_key"]

log = logging.getLogger(__name__)
OnChange = Callable[[set[int], set[int]], Awaitable[None]]
ERRORS: Final = (RedisError, OSError, TimeoutError)

OWNED_SHARDS: Final = Gauge("ce_shard_leases_owned", "Shards this process owns", ["role"])
LEASE_CHANGES: Final = Counter(
    "ce_shard_lease_changes_total", "Shards gained or lost by this process", ["role", "change"]
)


def _raise_if_cancelled() -> None:
    """Deliver a cancellation that a Redis call swallowed: with redis-py 8.2 on Python 3.11
    a cancel landing inside a command sometimes returns normally (seen in a stress of 150
    cancels of `run`), and the loop would go on forever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def lease_key(prefix: str, role: str, shard: int) -> str:
    """The lease of `shard`, in the slot of the shard's streams `<stream>:{<shard>}`."""
    return f"{prefix}lease.{role}:{{{shard}}}"


def token_key(prefix: str, role: str, shard: int) -> str:
    """The fencing-token counter of `shard`, in the same slot as its lease."""
    return f"{prefix}lease.{role}.token:{{{shard}}}"


def members_key(prefix: str, role: str) -> str:
    return f"{prefix}lease.{role}.members"


@dataclass(slots=True)
class _Held:
    token: int
    until: float  # monotonic deadline: last good renew (sent) + ttl - margin


class ShardLeases:
    """The shards of `role` that `owner` holds; `refresh` (or `run`) keeps them."""

    def __init__(
        self,
        redis: Any,
        prefix: str,
        role: str,
        shards: int,
        owner: str,
        *,
        ttl_ms: int = 5000,
        fixed: frozenset[int] | None = None,
    ) -> None:
        if shards < 1 or ttl_ms <= 0 or not owner or " " in owner:
            raise ValueError("need shards >= 1, ttl_ms > 0 and an owner id without spaces")
        if fixed is not None and not fixed <= set(range(shards)):
            raise ValueError(f"fixed shards {sorted(fixed)} outside 0..{shards - 1}")
        self.redis, self.prefix, self.role, self.shards = redis, prefix, role, shards
        self.owner, self.ttl_ms, self.fixed = owner, ttl_ms, fixed
        self.margin_s = ttl_ms / 5000  # a fifth of the ttl, in seconds
        self.period_s = ttl_ms / 3000
        self._held: dict[int, _Held] = {}
        self._sent = 0.0  # monotonic start of the current refresh's Redis work

    @property
    def owned(self) -> dict[int, int]:
        """shard -> fencing token (0 for fixed ownership)."""
        return {shard: held.token for shard, held in sorted(self._held.items())}

    def lease_key(self, shard: int) -> str:
        return lease_key(self.prefix, self.role, shard)

    async def refresh(self) -> tuple[set[int], set[int]]:
        """Renew, balance and acquire once; the shards (gained, lost) since the last call. A
        shard in both was lost and taken again with a new token: drop its state, rebuild it."""
        before = self.owned
        if self.fixed is not None:
            self._held = {s: _Held(0, float("inf")) for s in self.fixed}
        else:
            self._expire()
            try:
                async with asyncio.timeout(self._op_timeout()):
                    await self._exchange()
            except ERRORS as exc:
                log.warning("lease.redis_error", extra={"role": self.role, "error": repr(exc)})
            self._expire()
        return self._report(before)

    async def run(self, stop: asyncio.Event, on_change: OnChange) -> None:
        """Refresh every ttl/3 (sooner when a shard's deadline comes first) until `stop`, and
        call `on_change(gained, lost)` for every refresh that changed something, in order.
        The callbacks run beside the refreshes, so a slow rebuild of a gained shard never
        holds back the renewals; changes still queued at `stop` are delivered before `run`
        returns. `release_all` is left to the caller, after it has finished with its shards."""
        changes: asyncio.Queue[tuple[set[int], set[int]] | None] = asyncio.Queue()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._notify(changes, on_change), name=f"lease-{self.role}-notify")
            try:
                while not stop.is_set():
                    gained, lost = await self.refresh()
                    if gained or lost:
                        changes.put_nowait((gained, lost))
                    _raise_if_cancelled()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._sleep_s()):
                            await stop.wait()
            finally:
                changes.put_nowait(None)

    @staticmethod
    async def _notify(
        changes: asyncio.Queue[tuple[set[int], set[int]] | None], on_change: OnChange
    ) -> None:
        while (change := await changes.get()) is not None:
            await on_change(*change)

    async def release_all(self) -> set[int]:
        """Give every lease up (another owner takes it at its next refresh) and leave the
        members; the shards released. Call it once `run` has returned (a refresh running
        beside it would take shards again). Errors are logged: the leases then expire."""
        before, held, self._held = self.owned, self._held, {}
        if self.fixed is None:
            try:
                async with asyncio.timeout(max(self.period_s, 1.0)):
                    for shard, lease in held.items():
                        await RELEASE_SCRIPT(
                            self.redis, [self.lease_key(shard)], [self._value(lease.token)]
                        )
                    await self.redis.zrem(members_key(self.prefix, self.role), self.owner)
            except ERRORS as exc:
                log.warning("lease.release_failed", extra={"role": self.role, "error": repr(exc)})
        if held:
            log.info("lease.released", extra={"role": self.role, "shards": sorted(held)})
        return self._report(before)[1]

    # ------------------------------------------------------------------ internals

    def _value(self, token: int) -> str:
        return f"{token} {self.owner}"

    def _op_timeout(self) -> float:
        """One refresh's Redis work ends by the period, and by the first shard's deadline."""
        first = min((h.until for h in self._held.values()), default=float("inf"))
        return max(0.01, min(self.period_s, first - time.monotonic()))

    def _sleep_s(self) -> float:
        first = min((h.until for h in self._held.values()), default=float("inf"))
        return max(0.0, min(self.period_s, first - time.monotonic()))

    def _expire(self) -> None:
        now = time.monotonic()
        for shard in [s for s, h in self._held.items() if h.until <= now]:
            del self._held[shard]
            self._log_lost(shard, "stale")

    async def _exchange(self) -> None:
        self._sent = time.monotonic()  # before any renew or acquire: the deadlines count from it
        owners = await self._announce()
        await self._renew_all()
        plan = balance(self.shards, set(self._held), owners, self.owner)
        for shard in plan.release:
            lease = self._held.pop(shard)
            self._log_lost(shard, "released")
            await RELEASE_SCRIPT(self.redis, [self.lease_key(shard)], [self._value(lease.token)])
        room = plan.room
        for shard in plan.candidates:
            if room <= 0:
                break
            if await self._acquire(shard):
                room -= 1

    async def _announce(self) -> list[str]:
        """Refresh this owner's membership, prune the expired ones; the live owners."""
        key, now = members_key(self.prefix, self.role), now_ms()
        pipe = self.redis.pipeline(transaction=False)
        pipe.zadd(key, {self.owner: now + self.ttl_ms})
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zrange(key, 0, -1)
        *_, members = await pipe.execute()
        return [m.decode() if isinstance(m, bytes) else str(m) for m in members]

    async def _renew_all(self) -> None:
        for shard, lease in list(self._held.items()):
            mine = await RENEW_SCRIPT(
                self.redis, [self.lease_key(shard)], [self._value(lease.token), self.ttl_ms]
            )
            if int(mine) == 1:
                lease.until = self._sent + self.ttl_ms / 1000 - self.margin_s
            else:
                del self._held[shard]
                self._log_lost(shard, "taken")

    async def _acquire(self, shard: int) -> bool:
        keys = [self.lease_key(shard), token_key(self.prefix, self.role, shard)]
        token = int(await ACQUIRE_SCRIPT(self.redis, keys, [self.owner, self.ttl_ms]))
        if token <= 0:
            return False
        self._held[shard] = _Held(token, self._sent + self.ttl_ms / 1000 - self.margin_s)
        log.info("lease.gained", extra={"role": self.role, "shard": shard, "token": token})
        return True

    def _log_lost(self, shard: int, reason: str) -> None:
        log.info("lease.lost", extra={"role": self.role, "shard": shard, "reason": reason})

    def _report(self, before: dict[int, int]) -> tuple[set[int], set[int]]:
        """(gained, lost) against `before`; a shard taken again with a new token is in both."""
        now = self.owned
        gained = {s for s, token in now.items() if before.get(s) != token}
        lost = {s for s, token in before.items() if now.get(s) != token}
        OWNED_SHARDS.labels(self.role).set(len(now))
        if gained:
            LEASE_CHANGES.labels(self.role, "gained").inc(len(gained))
        if lost:
            LEASE_CHANGES.labels(self.role, "lost").inc(len(lost))
        return gained, lost
