"""ExitBrain's shards: which symbols it refreshes, and their state when a shard moves.

ExitBrain (role `exitbrain`) refreshes the symbols whose home shard it owns and keeps one
fail-safe per symbol (`CrossExchangeAdapter`). With SHARD_LEASES a shard can move:
- losing it (lease lost, or a write refused) drops every per-symbol state of the shard and its
  queued alerts: the new owner is authoritative, this process publishes nothing more for
  those symbols (a refresh under way when the shard goes is dropped after it, and its writes
  are refused by the fence);
- gaining it resumes each symbol of the shard from what its former owner published (the
  shard's exitbrain.status and exitbrain.alerts, and the snapshot of its last ok read in
  exchange.normalized: `exit_brain_v3/resume.py` says why the state is rebuilt from these
  and not by replaying the input); its symbols are refreshed only once that is done.
Static ownership (OWNED_SHARDS) has no former owner: its shards are ready at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from typing import Any, Final

from backend.domains.exits.exit_brain_v3.cross_exchange_adapter import CrossExchangeAdapter
from backend.domains.exits.exit_brain_v3.resume import fold_published, resume, snapshots_read
from microservices.common.backoff import Backoff
from microservices.common.metrics import EXITBRAIN_LOCAL_MODE
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS
from microservices.common.shard_read import decoded_oldest
from microservices.common.shard_roles import Loop, ShardRole
from microservices.common.sharding import shard_of
from microservices.common.streams import Stream, Streams

logger = logging.getLogger(__name__)
RETRY: Final = Backoff(base_s=0.1, cap_s=5.0)


async def _records(redis: Any, shard: Stream[Any]) -> list[Any]:
    """Every decodable record of one shard, oldest first."""
    return [record async for batch in decoded_oldest(redis, shard) for _, record in batch]


class ExitBrainShards:
    """The shards ExitBrain refreshes here; a `Refresher` for `run_exitbrain_loop` (only the
    symbols of shards ready here are refreshed)."""

    def __init__(self, role: ShardRole, adapter: CrossExchangeAdapter, streams: Streams) -> None:
        self.role, self.adapter, self.streams = role, adapter, streams
        self.shards = streams.status.shards
        # shard -> the gain it was resumed in (static: ready from the start)
        self.ready: dict[int, int] = {} if role.leased else dict.fromkeys(role.owned, 0)
        self._gains = itertools.count(1)
        role.on_lost = self.lost

    def _in(self, shard: int) -> Callable[[str], bool]:
        return lambda symbol: shard_of(symbol, self.shards) == shard

    def owns(self, symbol: str) -> bool:
        return shard_of(symbol, self.shards) in self.ready

    def start(self, shard: int, token: int) -> list[Loop]:
        """`ShardRole.run`'s per-shard start: static shards are ready, leased ones resume."""
        if not self.role.leased:
            self.ready[shard] = 0
            return []
        return [self._take(shard)]

    async def _take(self, shard: int) -> None:
        attempt = 0
        while True:
            try:
                resumed = await self.rebuild(shard)
                break
            except TRANSIENT_REDIS_ERRORS as exc:
                logger.warning("exitbrain.resume_failed", extra={"shard": shard,
                                                                  "error": repr(exc)})  # fmt: skip
                await asyncio.sleep(RETRY.delay(attempt))
                attempt += 1
        self.ready[shard] = next(self._gains)
        logger.info("exitbrain.shard_resumed", extra={"shard": shard, "symbols": resumed})

    async def rebuild(self, shard: int) -> int:
        """Resume the shard's symbols from its retained outputs; how many were resumed."""
        redis, streams = self.role.redis, self.streams
        published = fold_published(
            await _records(redis, streams.status.shard(shard)),
            await _records(redis, streams.alerts.shard(shard)),
        )
        read: dict[str, Any] = {}
        async for batch in decoded_oldest(redis, streams.normalized.shard(shard)):
            read.update(snapshots_read(published, (snap for _, snap in batch)))
        params = self.adapter.params
        self.adapter.forget(self._in(shard))  # what API reads left here meanwhile
        self.adapter.resume({s: resume(params, p, read.get(s)) for s, p in published.items()})
        return len(published)

    def lost(self, shard: int) -> None:
        """Drop the shard's per-symbol state (`ShardRole.on_lost`)."""
        self.ready.pop(shard, None)
        dropped = self.adapter.forget(self._in(shard))
        for symbol in dropped:
            with contextlib.suppress(KeyError):
                EXITBRAIN_LOCAL_MODE.remove(symbol)
        logger.info("exitbrain.shard_dropped", extra={"shard": shard, "symbols": len(dropped)})

    async def refresh(self, symbol: str) -> object:
        """The adapter's refresh of a symbol of a ready shard (None otherwise); a shard lost
        during the refresh drops what the refresh left."""
        shard = shard_of(symbol, self.shards)
        if shard not in self.ready:
            return None
        result = await self.adapter.refresh(symbol)
        if shard not in self.ready:
            self.adapter.forget(lambda s: s == symbol)
        return result

    def in_local_mode(self, symbol: str) -> bool | None:
        """None for a symbol not refreshed here (its gauge is the owner's)."""
        return self.adapter.in_local_mode(symbol) if self.owns(symbol) else None
