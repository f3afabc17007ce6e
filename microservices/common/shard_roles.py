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
the shard's token (`shard_publisher`: `ShardPublisher`, `fenced_writer`); a refused write
drops the shard (a paused former owner writes nothing after losing it). Static ownership
(token 0) writes through the ordinary `StreamProducer`: no fence, no change in speed.

Roles that are not partitioned (storage writer, alert delivery, `ml` readers: several
instances may share each shard's consumer group, their processing is idempotent) read every
shard: `Stream.shards_all()`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
from collections.abc import Callable, Coroutine
from typing import Any, Final

from microservices.common.shard_consumers import Pruning, shard_keys
from microservices.common.shard_lease import ShardLeases, lease_key
from microservices.common.sharding import parse_shards, shard_of
from microservices.common.tasks import cancel_until_done

logger = logging.getLogger(__name__)
STOP_GRACE_S: Final = 1.0  # a stopping shard loop gets this long, then it is cancelled
_INSTANCES: Final = itertools.count(1)  # leased owners of one process stay distinct
Loop = Coroutine[Any, Any, None]
StartShard = Callable[[int, int], list[Loop]]


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
        self._ending: set[asyncio.Task[Any]] = set()  # lost shards' tasks being cancelled
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
        tasks: list[asyncio.Task[Any]] = list(self._tasks.pop(shard, []))
        if (pruner := self._pruners.pop(shard, None)) is not None:
            tasks.append(pruner)
        self._cancel_later(tasks)
        if self.on_lost is not None:
            self.on_lost(shard)
        logger.info("shard_role.lost", extra={"role": self.role, "shard": shard})

    async def _stop_all(self) -> None:
        """The loops see `stop` and end; the ones still busy after STOP_GRACE_S are cancelled."""
        tasks = [t for shard_tasks in self._tasks.values() for t in shard_tasks]
        self._tasks = {}
        pruners, self._pruners = list(self._pruners.values()), {}
        await cancel_until_done(pruners)
        if self._ending:  # lost shards' loops, being cancelled (`_cancel_later`)
            await asyncio.wait(list(self._ending))
        if self.leased:
            self._tokens = {}
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=STOP_GRACE_S)
        stuck = await cancel_until_done(late)  # failures: see `_ended`
        if stuck:
            logger.warning("shard_role.stuck", extra={"role": self.role, "tasks": len(stuck)})

    def _cancel_later(self, tasks: list[asyncio.Task[Any]]) -> None:
        """Cancel a lost shard's tasks until they end, in the background (`lose` is sync)."""
        if tasks:
            ending = asyncio.create_task(cancel_until_done(tasks))
            self._ending.add(ending)
            ending.add_done_callback(self._ending.discard)
