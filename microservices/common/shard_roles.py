"""Shard ownership for the roles that own shards, and "every shard" for the ones that do not.

Roles partitioned by owner (aggregator, feature adapter, ExitBrain, anomaly monitor, the
large-trade watcher: they keep per-symbol state) own a set of shards. `ShardRole` runs a
role's per-shard loops: for the static shards (OWNED_SHARDS, empty = all) from the start, or
following `ShardLeases` (SHARD_LEASES): a gained shard's loops start, a lost shard's loops are
cancelled (its entries stay pending in the shard's group, where the new owner claims them).
Leases are released on stop, so a clean stop hands the shards over at once. While it holds
a shard's lease, a role also deletes the consumers dead owners left in that shard's groups
(`shard_consumers`: idle, nothing pending, not its own name).

The fencing rule: a leased role writes its per-shard outputs only through `fenced_xadd` with
the shard's token (`ShardPublisher`, `fenced_writer`); a refused write drops the shard (a
paused former owner writes nothing after losing it). Static ownership (token 0) writes through
the ordinary `StreamProducer`: no fence, no change in speed.

Roles that are not partitioned (storage writer, alert delivery, `ml` readers: several
instances may share each shard's consumer group, their processing is idempotent) read every
shard: `Stream.shards_all()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Final

from prometheus_client import Counter

from microservices.common.producer import StreamProducer
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS
from microservices.common.shard_consumers import Pruning, shard_keys
from microservices.common.shard_lease import Fenced, ShardLeases, fenced_xadd, lease_key
from microservices.common.sharding import parse_shards, shard_of
from microservices.common.streams import Stream

logger = logging.getLogger(__name__)
STOP_GRACE_S: Final = 1.0  # a stopping shard loop gets this long, then it is cancelled
FLUSH_INTERVAL_S: Final = 0.005
MAX_BUFFERED: Final = 10_000  # per shard and stream while Redis is unreachable
_INSTANCES: Final = itertools.count(1)  # leased owners of one process stay distinct
Loop = Coroutine[Any, Any, None]
StartShard = Callable[[int, int], list[Loop]]

FENCED_DROPPED: Final = Counter(
    "ce_shard_fenced_dropped_total",
    "Records a leased role dropped: its shard's lease was lost or its write refused",
    ["role"],
)


def owned_static(settings: Any) -> frozenset[int]:
    """OWNED_SHARDS of STREAM_SHARDS, or every shard when it is empty."""
    shards: int = settings.stream_shards
    return parse_shards(settings.owned_shards, shards) or frozenset(range(shards))


class ShardRole:
    """The shards `role` owns in this process, and the loops that run for each."""

    def __init__(
        self,
        role: str,
        settings: Any,
        redis: Any,
        *,
        owner: str | None = None,
        on_lost: Callable[[int], None] | None = None,
    ) -> None:
        self.role, self.redis = role, redis
        self.prefix: str = settings.stream_prefix
        self.shards: int = settings.stream_shards
        self.leased: bool = settings.shard_leases
        self.on_lost = on_lost  # drop a shard's state (called after its loops are cancelled)
        self.leases: ShardLeases | None = None
        self._tokens: dict[int, int] = {}
        self._tasks: dict[int, list[asyncio.Task[None]]] = {}
        self._pruners: dict[int, asyncio.Task[None]] = {}  # leased: the consumer sweeps
        self._halt = asyncio.Event()
        self._failure: BaseException | None = None
        if self.leased:
            name = f"{owner or role}-{socket.gethostname()}-{os.getpid()}-{next(_INSTANCES)}"
            self.owner = name.replace(" ", "_")
            self.leases = ShardLeases(
                redis, self.prefix, role, self.shards, self.owner,
                ttl_ms=settings.shard_lease_ttl_ms,
            )  # fmt: skip
            self.pruning = Pruning.of(settings)  # dead owners' consumers (`_start`)
        else:
            self.owner = owner or role
            self._tokens = dict.fromkeys(sorted(owned_static(settings)), 0)

    @property
    def owned(self) -> dict[int, int]:
        """shard -> fencing token (0: static ownership); leased: the shards running now."""
        return dict(self._tokens)

    def token(self, shard: int) -> int | None:
        """`shard`'s fencing token, None when not owned (cheaper than `owned`)."""
        return self._tokens.get(shard)

    def owns(self, symbol: str) -> bool:
        """Whether `symbol`'s home shard is owned here."""
        return shard_of(symbol, self.shards) in self._tokens

    def lease_key(self, shard: int) -> str:
        return lease_key(self.prefix, self.role, shard)

    async def run(self, stop: asyncio.Event, start: StartShard) -> None:
        """Run `start(shard, token)`'s loops for every owned shard until `stop`. A loop that
        fails ends the role: the others are stopped, the leases released, the error raised
        (as a task group would)."""
        halt = self._halt = asyncio.Event()  # stop, or a loop failed
        relay = asyncio.create_task(stop.wait(), name=f"{self.role}-stop")
        relay.add_done_callback(lambda _: halt.set())
        try:
            if self.leases is None:
                for shard, token in self.owned.items():
                    self._start(shard, token, start)
                await halt.wait()
            else:
                await self._follow(self.leases, halt, start)
        finally:
            relay.cancel()
            await self._stop_all()
            if self.leases is not None:
                await self.leases.release_all()
        if self._failure is not None:
            raise self._failure

    async def _follow(self, leases: ShardLeases, halt: asyncio.Event, start: StartShard) -> None:
        async def changed(gained: set[int], lost: set[int]) -> None:
            for shard in sorted(lost):
                self.lose(shard)
            for shard in sorted(gained):
                token = leases.owned.get(shard)
                if token is not None and not halt.is_set():
                    self._start(shard, token, start)

        await leases.run(halt, changed)

    def _start(self, shard: int, token: int, start: StartShard) -> None:
        self._tokens[shard] = token
        tasks = [
            asyncio.create_task(loop, name=f"{self.role}-{shard}-{i}")
            for i, loop in enumerate(start(shard, token))
        ]
        for task in tasks:
            task.add_done_callback(self._ended)
        self._tasks[shard] = tasks
        if self.leased:  # sweeps while owned: `shard_consumers`
            keys = shard_keys(self.prefix, self.shards, shard)
            sweep = self.pruning.loop(self.redis, self.role, self.owner, shard, keys)
            self._pruners[shard] = asyncio.create_task(sweep)
        logger.info("shard_role.started", extra={"role": self.role, "shard": shard})

    def _ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None or self._failure is not None:
            return
        self._failure = task.exception()
        logger.error("shard_role.loop_failed", extra={"role": self.role, "task": task.get_name(),
                                                      "error": repr(self._failure)})  # fmt: skip
        self._halt.set()

    def lose(self, shard: int) -> None:
        """Stop owning `shard` now (lease lost, or a write refused): cancel its loops, drop
        its token and its state. Idempotent."""
        if self._tokens.pop(shard, None) is None:
            return
        for task in self._tasks.pop(shard, []):
            task.cancel()
        if (pruner := self._pruners.pop(shard, None)) is not None:
            pruner.cancel()
        if self.on_lost is not None:
            self.on_lost(shard)
        logger.info("shard_role.lost", extra={"role": self.role, "shard": shard})

    async def _stop_all(self) -> None:
        """The loops see `stop` and end; the ones still busy after STOP_GRACE_S are cancelled."""
        tasks = [t for shard_tasks in self._tasks.values() for t in shard_tasks]
        self._tasks = {}
        for pruner in self._pruners.values():
            pruner.cancel()
        self._pruners = {}
        if self.leased:
            self._tokens = {}
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=STOP_GRACE_S)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # failures: see `_ended`


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
