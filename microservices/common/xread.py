"""XREAD over several streams, on one Redis node or a Redis Cluster.

On one node it is one `XREAD [COUNT n] [BLOCK ms] STREAMS k1 k2 ... id1 id2 ...`, as before.
On a cluster one XREAD may only name keys of one slot (else CROSSSLOT), so the reader keeps one
XREAD per slot in flight (concurrently, each on its node) and returns as soon as any slot has
entries. The reads of the slots that had none stay in flight for the next call: their ids are
still the newest for their streams (the caller moves an id only past entries it was given), so
nothing is skipped or read twice, and a quiet slot costs one blocking read per BLOCK, not a
reconnect. `aclose()` (or leaving `async with`) cancels what is in flight.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

import redis.asyncio as aredis
from redis.asyncio.cluster import RedisCluster

from microservices.common.cluster_xadd import stream_slot

Rows = list[Any]  # [(stream key, [(entry id, {field: value}), ...]), ...] as redis-py returns it


class StreamReader:
    """Reads several streams from the ids the caller keeps (`last`: stream -> id)."""

    def __init__(self, redis: aredis.Redis | RedisCluster) -> None:
        self._redis = redis
        self._in_flight: dict[int, asyncio.Task[Any]] = {}

    async def read(self, last: dict[str, str], count: int, block: int | None) -> Rows:
        """New entries after `last` (at most `count` per stream), waiting up to `block` ms."""
        redis = self._redis
        if not isinstance(redis, RedisCluster):
            rows: Any = await redis.xread(last, count=count, block=block)  # type: ignore[arg-type]
            return list(rows or [])
        for slot, ids in slot_groups(last).items():
            if slot not in self._in_flight:
                read = redis.xread(ids, count=count, block=block)  # type: ignore[arg-type]
                self._in_flight[slot] = asyncio.ensure_future(read)
        # non-blocking: every slot's answer; blocking: the first slot with entries (or BLOCK)
        when = asyncio.ALL_COMPLETED if block is None else asyncio.FIRST_COMPLETED
        await asyncio.wait(self._in_flight.values(), return_when=when)
        out: Rows = []
        for slot, task in list(self._in_flight.items()):
            if task.done():
                del self._in_flight[slot]
                out.extend(task.result() or [])  # an error is raised to the caller
        return out

    async def aclose(self) -> None:
        """Cancel the reads in flight and wait for them to end."""
        tasks = list(self._in_flight.values())
        self._in_flight.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> StreamReader:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def slot_groups(last: dict[str, str]) -> dict[int, dict[str, str]]:
    """The streams of `last` grouped by cluster slot (one XREAD each), in their order."""
    groups: dict[int, dict[str, str]] = {}
    for name, entry_id in last.items():
        groups.setdefault(stream_slot(name), {})[name] = entry_id
    return groups


async def xread_multi(
    redis: aredis.Redis | RedisCluster, last: dict[str, str], count: int, block: int | None
) -> Rows:
    """One read of several streams (a `StreamReader` used once: on a cluster with `block`, the
    reads of slots that had nothing are cancelled, so a caller that reads in a loop keeps a
    reader instead)."""
    async with StreamReader(redis) as reader:
        return await reader.read(last, count, block)
