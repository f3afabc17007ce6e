"""Reads of a stream across its shards, for the readers (API, /health, dashboard, view).

With STREAM_SHARDS = 1 a stream is one key and every helper here is the plain command on it.
With N > 1 a sharded stream is N keys (`sharding.py`): a reader of one symbol reads only that
symbol's shard (`stream.shard_for(symbol)`), and a reader of the whole stream reads every
shard, one key per command (so it works on a Redis Cluster, where the shards sit in different
slots), and merges: entries by id (newest first), lengths and consumer-group counters summed.

Entry ids order entries of different shards by time: every shard's ids are `<ms>-<seq>` from
the same Redis clock (on a cluster: the nodes' clocks, close enough for "newest"); entries of
different shards within one millisecond have no order between them.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

import redis.asyncio as aredis
from redis.exceptions import ResponseError

from microservices.common.errors import SchemaError
from microservices.common.streams import Stream

# (key the entry was read from, entry id, fields) as redis-py returns them (bytes)
Entry = tuple[str, bytes, dict[bytes, bytes]]


def as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def id_order(entry_id: bytes | str) -> tuple[int, int]:
    """`1700000000000-3` -> (1700000000000, 3): the order of entry ids."""
    ms, _, seq = as_text(entry_id).partition("-")
    return int(ms), int(seq or 0)


def id_ms(entry_id: bytes | str) -> int:
    return id_order(entry_id)[0]


def keys(stream: Stream[Any]) -> list[str]:
    """The Redis keys of `stream`: every shard's, or only its own when it is one shard."""
    return [stream.name] if stream.index is not None else stream.names()


def merge_newest(per_shard: Mapping[str, Sequence[Any]], count: int) -> list[Entry]:
    """The newest `count` of several shards' XREVRANGE answers (each newest first)."""
    tagged = [(name, row[0], row[1]) for name, rows in per_shard.items() for row in rows]
    tagged.sort(key=lambda entry: id_order(entry[1]), reverse=True)
    return tagged[:count]


def sum_group_counters(per_shard: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """XINFO GROUPS of every shard (shard -> group -> {pending, lag}) summed per group; a lag
    is None (unknown) when any shard holding the group reports it unknown. With more than
    one shard each group also lists its shards (`shards`: shard -> {pending, lag})."""
    out: dict[str, Any] = {}
    for shard, groups in per_shard.items():
        for group, info in groups.items():
            total = out.setdefault(group, {"pending": 0, "lag": 0, "shards": {}})
            total["pending"] += info["pending"]
            lag = info["lag"]
            total["lag"] = None if lag is None or total["lag"] is None else total["lag"] + lag
            total["shards"][shard] = dict(info)
    if len(per_shard) <= 1:
        for total in out.values():
            del total["shards"]
    return out


async def _each(redis: aredis.Redis, names: Iterable[str], command: str, *args: Any) -> list[Any]:
    """One command per key, concurrently (each key may sit on another cluster node)."""
    method = getattr(redis, command)
    return list(await asyncio.gather(*(method(name, *args) for name in names)))


async def newest(redis: aredis.Redis, stream: Stream[Any], count: int) -> list[Entry]:
    """The newest `count` entries of the stream over all its shards, newest first."""
    names = keys(stream)
    answers = await _each(redis, names, "xrevrange", "+", "-", count)
    return merge_newest(dict(zip(names, answers, strict=True)), count)


async def newest_entry(redis: aredis.Redis, stream: Stream[Any]) -> Entry | None:
    rows = await newest(redis, stream, 1)
    return rows[0] if rows else None


async def newest_per_shard(
    redis: aredis.Redis, stream: Stream[Any], count: int
) -> dict[str, list[Any]]:
    """Shard name -> its newest `count` XREVRANGE rows (for readers that want every symbol:
    each symbol's entries sit in one shard)."""
    names = keys(stream)
    answers = await _each(redis, names, "xrevrange", "+", "-", count)
    return {name: list(rows or []) for name, rows in zip(names, answers, strict=True)}


async def walk_newest(
    redis: aredis.Redis, stream: Stream[Any], page: int, upper: str = "+"
) -> AsyncIterator[list[Entry]]:
    """Every entry of the stream, newest first over all shards, in batches of `page` (a shard
    is read `page` entries at a time as the walk reaches them); the caller stops when it has
    seen enough. One key: its XREVRANGE pages as they come."""
    names = keys(stream)
    if len(names) == 1:
        async for batch in _walk_one(redis, names[0], page, upper):
            yield batch
        return
    merge = _Merge(redis, names, page, upper)
    await asyncio.gather(*(merge.refill(name) for name in names))
    while batch := await merge.take(page):
        yield batch


class _Merge:
    """The shards' next entries, newest first: a heap of each shard's head entry."""

    def __init__(self, redis: aredis.Redis, names: list[str], page: int, upper: str) -> None:
        self.redis, self.page = redis, page
        self.cursors = dict.fromkeys(names, upper)
        self.buffers: dict[str, deque[Any]] = {name: deque() for name in names}
        self.done: set[str] = set()
        self.heads: list[tuple[tuple[int, int], str]] = []  # (negated id order, shard)

    async def refill(self, name: str) -> None:
        rows: Any = await self.redis.xrevrange(name, self.cursors[name], "-", count=self.page)
        rows = list(rows or [])
        if len(rows) < self.page:
            self.done.add(name)
        if rows:
            self.cursors[name] = "(" + as_text(rows[-1][0])
            self.buffers[name].extend(rows)
            self._push(name)

    def _push(self, name: str) -> None:
        ms, seq = id_order(self.buffers[name][0][0])
        heapq.heappush(self.heads, ((-ms, -seq), name))

    async def take(self, count: int) -> list[Entry]:
        batch: list[Entry] = []
        while self.heads and len(batch) < count:
            _, name = heapq.heappop(self.heads)
            entry_id, fields = self.buffers[name].popleft()
            batch.append((name, entry_id, fields))
            if self.buffers[name]:
                self._push(name)
            elif name not in self.done:
                await self.refill(name)
        return batch


async def _walk_one(
    redis: aredis.Redis, name: str, page: int, upper: str
) -> AsyncIterator[list[Entry]]:
    while True:
        rows: Any = await redis.xrevrange(name, upper, "-", count=page)
        if rows:
            yield [(name, entry_id, fields) for entry_id, fields in rows]
        if not rows or len(rows) < page:
            return
        upper = "(" + as_text(rows[-1][0])


async def walk_symbol(
    redis: aredis.Redis, stream: Stream[Any], symbol: str, page: int, budget: int
) -> AsyncIterator[tuple[bytes, dict[bytes, bytes]]]:
    """`symbol`'s entries newest first, from its shard only, scanning at most `budget` entries
    of that shard (the shard interleaves the other symbols hashed to it)."""
    name = stream.shard_for(symbol).name
    wanted = symbol.encode()
    upper, scanned = "+", 0
    while scanned < budget:
        rows: Any = await redis.xrevrange(name, upper, "-", count=min(page, budget - scanned))
        for entry_id, fields in rows or []:
            if fields.get(b"symbol") == wanted:
                yield entry_id, fields
        if not rows or len(rows) < min(page, budget - scanned):
            return
        scanned += len(rows)
        upper = "(" + as_text(rows[-1][0])


async def lengths(redis: aredis.Redis, stream: Stream[Any]) -> dict[str, int]:
    """Shard name -> XLEN (0 for a shard that does not exist yet)."""
    names = keys(stream)
    answers = await _each(redis, names, "xlen")
    return {name: int(n) for name, n in zip(names, answers, strict=True)}


async def total_length(redis: aredis.Redis, stream: Stream[Any]) -> int:
    return sum((await lengths(redis, stream)).values())


async def oldest_ms(redis: aredis.Redis, stream: Stream[Any]) -> int | None:
    """Time (from its entry id) of the oldest entry any shard still holds; None when empty."""
    answers = await _each(redis, keys(stream), "xrange", "-", "+", 1)
    found = [id_ms(rows[0][0]) for rows in answers if rows]
    return min(found) if found else None


async def exists_any(redis: aredis.Redis, stream: Stream[Any]) -> bool:
    """Whether any shard of the stream exists in Redis (one EXISTS per key)."""
    return any(await _each(redis, keys(stream), "exists"))


async def _shard_groups(redis: aredis.Redis, name: str) -> dict[str, dict[str, Any]]:
    try:
        groups: Any = await redis.xinfo_groups(name)
    except ResponseError:  # no such key
        return {}
    out: dict[str, dict[str, Any]] = {}
    for info in groups:
        lag = info.get("lag")
        out[as_text(info["name"])] = {
            "pending": int(info.get("pending", 0)),
            "lag": None if lag is None else int(lag),
        }
    return out


async def group_counters(redis: aredis.Redis, stream: Stream[Any]) -> dict[str, Any]:
    """Group -> {pending, lag} summed over the shards (see `sum_group_counters`)."""
    names = keys(stream)
    answers = await asyncio.gather(*(_shard_groups(redis, name) for name in names))
    return sum_group_counters(dict(zip(names, answers, strict=True)))


async def group_lag(redis: aredis.Redis, stream: Stream[Any], group: str) -> int | None:
    """Entries not yet delivered to `group`, summed over the shards; None when unknown on any
    shard or when the group exists on none."""
    info = (await group_counters(redis, stream)).get(group)
    return None if info is None else info["lag"]


async def decoded_oldest(
    redis: Any, stream: Stream[Any], page: int = 2_000
) -> AsyncIterator[list[tuple[str, Any]]]:
    """Every entry of one key (`stream` is a shard), oldest first, a page at a time, as (id,
    record); entries that fail to decode are left out (the group's consumer dead-letters them
    when it comes by). What a role folds to rebuild a shard's state."""
    start = "-"
    while True:
        rows: Any = await redis.xrange(stream.name, start, "+", count=page)
        batch = []
        for raw_id, fields in rows:
            try:
                batch.append((as_text(raw_id), stream.schema.decode(fields)))
            except SchemaError:
                continue
        if batch:
            yield batch
        if len(rows) < page:
            return
        start = "(" + as_text(rows[-1][0])


async def newest_pages(
    redis: Any, name: str, sizes: Iterable[int], lower: str = "-"
) -> AsyncIterator[list[Any]]:
    """One key's XREVRANGE rows, newest first, down to `lower`, a page of each of `sizes` in
    turn; it ends after a page shorter than asked (the oldest entry reached) or when `sizes`
    runs out. What a reader looking back for outputs or a symbol's newest entry pages with."""
    upper = "+"
    for size in sizes:
        rows: Any = await redis.xrevrange(name, upper, lower, count=size)
        rows = rows or []
        yield rows
        if len(rows) < size:
            return
        upper = "(" + as_text(rows[-1][0])
