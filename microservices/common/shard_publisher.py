"""Writing a role's per-shard outputs: fenced when its shards are leased (`shard_roles`).

`ShardPublisher.publish(stream, record)`: static ownership, unsharded streams and context
records (every shard) go through the ordinary `StreamProducer`; a leased role's records are
buffered per (shard, stream) and written every few ms by `fenced_xadd` with the shard's
token. `fenced_writer` writes one entry the same way (ExitBrain). A refused write drops the
shard (`ShardRole.lose`) and counts what was dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any, Final

from prometheus_client import Counter

from microservices.common.producer import StreamProducer
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS
from microservices.common.shard_lease import Fenced, fenced_xadd
from microservices.common.shard_roles import ShardRole
from microservices.common.sharding import shard_of
from microservices.common.streams import Stream

logger = logging.getLogger(__name__)

FLUSH_INTERVAL_S: Final = 0.005
MAX_BUFFERED: Final = 10_000  # per shard and stream while Redis is unreachable

FENCED_DROPPED: Final = Counter(
    "ce_shard_fenced_dropped_total",
    "Records a leased role dropped: its shard's lease was lost or its write refused",
    ["role"],
)


class ShardPublisher:
    """`publish(stream, record)` for a role that owns shards.

    Static ownership, unsharded streams and context records (every shard): the producer.
    Leased: buffered per (shard, stream) and written every few ms with `fenced_xadd` and the
    shard's token; records of a shard not owned (any more) are dropped and counted, and a
    refused write makes the role lose the shard."""

    def __init__(self, role: ShardRole, producer: StreamProducer) -> None:
        self.role = role
        self.producer = producer
        self._buffer: dict[tuple[int, str], tuple[int, list[Mapping[Any, Any]]]] = {}
        self.written = 0
        self.dropped = 0

    def publish(self, stream: Stream[Any], record: Any) -> None:
        key = stream.key_of(record) if self.role.leased and stream.key_of is not None else None
        if key is None:  # static, unsharded, or a record for every shard
            self.producer.publish(stream, record)
            return
        shard = shard_of(key, stream.shards)
        if self.role.token(shard) is None:
            self._drop(1)
            return
        name = stream.shard(shard).name
        _, entries = self._buffer.setdefault((shard, name), (stream.maxlen, []))
        if len(entries) >= MAX_BUFFERED:
            entries.pop(0)
            self._drop(1)
        entries.append(stream.schema.encode(record))

    @property
    def pending(self) -> int:
        return sum(len(entries) for _, entries in self._buffer.values())

    async def flush(self) -> int:
        """Write every buffered batch with its shard's token; the entries written. Batches
        of a shard lost meanwhile are dropped; a Redis error is raised, the unwritten batches
        stay buffered for the next try."""
        total = 0
        for key in list(self._buffer):
            shard, name = key
            maxlen, entries = self._buffer.pop(key)  # what `publish` adds meanwhile waits
            token = self.role.token(shard)
            if token is None:
                self._drop(len(entries))
                continue
            try:
                written = await fenced_xadd(
                    self.role.redis, self.role.lease_key(shard), token, name, maxlen, entries
                )
            except Fenced:
                extra = {"role": self.role.role, "shard": shard, "token": token}
                logger.warning("shard_role.fenced", extra=extra)
                written = 0
                self._drop(len(entries))
                self.role.lose(shard)
            except BaseException:
                self._requeue(key, maxlen, entries)
                raise
            total += written
            self.written += written
        return total

    def _requeue(self, key: tuple[int, str], maxlen: int, entries: list[Any]) -> None:
        """Put an unwritten batch back ahead of what came meanwhile (bounded)."""
        newer = self._buffer.get(key, (maxlen, []))[1]
        merged = entries + newer
        if len(merged) > MAX_BUFFERED:
            self._drop(len(merged) - MAX_BUFFERED)
            merged = merged[-MAX_BUFFERED:]
        self._buffer[key] = (maxlen, merged)

    async def run(self, stop: asyncio.Event) -> None:
        """Flush every FLUSH_INTERVAL_S while leased; a last flush at stop."""
        if not self.role.leased:
            return
        while not stop.is_set():
            if self._buffer:
                with contextlib.suppress(*TRANSIENT_REDIS_ERRORS):
                    await self.flush()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=FLUSH_INTERVAL_S)
        with contextlib.suppress(*TRANSIENT_REDIS_ERRORS):
            await self.flush()

    def _drop(self, count: int) -> None:
        self.dropped += count
        FENCED_DROPPED.labels(self.role.role).inc(count)


async def fenced_writer(role: ShardRole, shard: Stream[Any], fields: Mapping[Any, Any]) -> None:
    """XADD one entry to `shard` (one shard of a stream) as `role`: fenced with the shard's
    token when leased (`Fenced`, and the shard is lost, when refused or not owned), plain
    otherwise."""
    index = shard.index or 0
    if not role.leased:
        await role.redis.xadd(shard.name, fields, maxlen=shard.maxlen, approximate=True)
        return
    token = role.token(index)
    if token is None:
        FENCED_DROPPED.labels(role.role).inc()
        raise Fenced(f"shard {index} of {role.role} is not owned here")
    try:
        await fenced_xadd(role.redis, role.lease_key(index), token, shard.name, shard.maxlen,
                          [fields])  # fmt: skip
    except Fenced:
        FENCED_DROPPED.labels(role.role).inc()
        role.lose(index)
        raise
