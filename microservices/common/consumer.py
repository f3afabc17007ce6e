"""Consumer-group reader: at-least-once handling of one stream's entries.

On start it creates the group (MKSTREAM; BUSYGROUP is fine) and drains its own pending
entries (read from id 0), then loops: reclaim entries left pending by dead consumers
(XAUTOCLAIM, idle > claim_idle_ms), read new entries (XREADGROUP `>` with BLOCK below the
socket timeout), decode each with the stream's schema, hand the good ones to the handler as a
batch and XACK them after it returns. An entry that fails to decode, or that has been
delivered more than `max_deliveries` times, is copied to `<stream>:dead` and acknowledged.
A handler exception leaves the batch pending (it is retried after claim_idle_ms). Redis
outages are retried with backoff; a group lost with a non-persistent Redis is recreated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import redis.asyncio as aredis
from redis.exceptions import ResponseError

from microservices.common import metrics
from microservices.common.backoff import Backoff
from microservices.common.errors import SchemaError
from microservices.common.lease_scripts import fenced_xack
from microservices.common.lifecycle import cancel_on_stop
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS
from microservices.common.streams import DEAD_LETTER_MAXLEN, Stream

logger = logging.getLogger(__name__)
R = TypeVar("R")
Entry = tuple[str, R]
Handler = Callable[[list[Entry[R]]], Awaitable[None]]
RawEntry = tuple[bytes, dict[bytes, bytes] | None]


class StreamConsumer(Generic[R]):
    def __init__(
        self,
        redis: aredis.Redis,
        stream: Stream[R],
        handler: Handler[R],
        *,
        group: str | None = None,
        consumer: str = "consumer-1",
        batch_size: int = 500,
        block_ms: int = 1_000,
        claim_idle_ms: int = 30_000,
        max_deliveries: int = 5,
        start_id: str = "0",
        backoff: Backoff | None = None,
    ) -> None:
        if stream.group is None and group is None:
            raise ValueError(f"stream {stream.name} has no consumer group; pass group=")
        self.redis = redis
        self.stream = stream
        self.group: str = group or stream.group or ""
        self.consumer = consumer
        self._handler = handler
        self._batch_size = batch_size
        self._block_ms = block_ms
        self._claim_idle_ms = claim_idle_ms
        self._max_deliveries = max_deliveries
        self._start_id = start_id
        self._backoff = backoff or Backoff(base_s=0.1, cap_s=5.0)
        self._last_claim = 0.0
        self.handled = 0
        self.dead_lettered = 0
        self.trimmed_pending = 0  # read, then trimmed before handled: lost to this group
        self.connected = True
        # (lease key, token) of a leased shard: acknowledgements go through `fenced_xack`,
        # so an owner that lost the shard raises `Fenced` instead of acknowledging
        self.fence: tuple[str, int] | None = None

    # ------------------------------------------------------------------ public loops

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; survives Redis outages."""
        attempt = 0
        ready = False
        while not stop.is_set():
            try:
                if not ready:
                    await self.start()
                    ready = True
                await self.step(block=True, stop=stop)
                attempt = 0
                self._mark_connected()
            except TRANSIENT_REDIS_ERRORS as exc:
                attempt += 1
                ready = False
                await self._pause_after_error(exc, attempt, stop)
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                logger.warning("consumer.group_missing", extra={"stream": self.stream.name})
                ready = False

    async def run_until_idle(self) -> int:
        """Start, then handle entries until a non-blocking read finds nothing (tests, tools)."""
        total = await self.start()
        while True:
            handled = await self.step(block=False, claim=True)
            if handled == 0:
                return total
            total += handled

    # ------------------------------------------------------------------ steps

    async def start(self) -> int:
        """Create the group if needed and re-handle own pending entries; returns that count."""
        await self.ensure_group()
        return await self.drain_own_pending()

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(
                self.stream.name, self.group, id=self._start_id, mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def drain_own_pending(self) -> int:
        """Re-handle entries this consumer read but never acknowledged (crash before XACK)."""
        total = 0
        while True:
            reply = await self.redis.xreadgroup(
                self.group, self.consumer, {self.stream.name: "0"}, count=self._batch_size
            )
            entries = _entries_of(reply)
            if not entries:
                return total
            total += await self._process(entries)

    async def step(
        self, *, block: bool, claim: bool = False, stop: asyncio.Event | None = None
    ) -> int:
        """One reclaim (when due) plus one read of new entries; returns entries acknowledged.
        A blocking read is abandoned when `stop` is set: what it was delivered stays pending
        for this consumer and is handled on the next start (at least once)."""
        handled = 0
        if claim or time.monotonic() - self._last_claim >= self._claim_idle_ms / 2000:
            handled += await self.reclaim()
        started = time.monotonic()
        read = self.redis.xreadgroup(
            self.group,
            self.consumer,
            {self.stream.name: ">"},
            count=self._batch_size,
            block=self._block_ms if block else None,
        )
        reply = await (read if stop is None else cancel_on_stop(stop, read))
        entries = _entries_of(reply)
        if entries:
            handled += await self._process(entries)
        elif block and time.monotonic() - started < self._block_ms / 4000:
            # Some servers (fakeredis) answer a blocking read at once: do not spin.
            await asyncio.sleep(min(0.05, self._block_ms / 1000))
        return handled

    async def reclaim(self) -> int:
        """XAUTOCLAIM entries idle longer than claim_idle_ms from any consumer."""
        self._last_claim = time.monotonic()
        reply = await self.redis.xautoclaim(
            self.stream.name,
            self.group,
            self.consumer,
            min_idle_time=self._claim_idle_ms,
            start_id="0-0",
            count=self._batch_size,
        )
        claimed: list[RawEntry] = list(reply[1]) if len(reply) > 1 else []
        if not claimed:
            return 0
        poison = await self._over_delivered([_id(e[0]) for e in claimed])
        return await self._process(claimed, poison=poison)

    # ------------------------------------------------------------------ internals

    async def _over_delivered(self, ids: Sequence[str]) -> set[str]:
        rows: Any = await self.redis.xpending_range(
            self.stream.name, self.group, min=ids[0], max=ids[-1], count=len(ids) * 2
        )
        return {
            _id(row["message_id"]) for row in rows if row["times_delivered"] > self._max_deliveries
        }

    async def _process(self, entries: list[RawEntry], poison: set[str] | None = None) -> int:
        good: list[Entry[R]] = []
        dead: list[tuple[str, dict[Any, Any], str]] = []
        gone: list[str] = []
        for raw_id, fields in entries:
            entry_id = _id(raw_id)
            if fields is None:
                gone.append(entry_id)  # trimmed away while pending
            elif poison and entry_id in poison:
                dead.append((entry_id, fields, f"delivered more than {self._max_deliveries} times"))
            else:
                try:
                    good.append((entry_id, self.stream.schema.decode(fields)))
                except SchemaError as exc:
                    dead.append((entry_id, fields, str(exc)))
        if good and not await self._handle(good):
            good = []  # left pending: retried after claim_idle_ms, dead-lettered when poison
        self.trimmed_pending += len(gone)
        acked = [e[0] for e in good] + [d[0] for d in dead] + gone
        await self._acknowledge(acked, dead)
        return len(acked)

    async def _handle(self, good: list[Entry[R]]) -> bool:
        try:
            await self._handler(good)
        except TRANSIENT_REDIS_ERRORS:
            raise
        except Exception:
            # A bug in the handler must not stop the pipeline; the batch stays pending.
            logger.exception(
                "consumer.handler_failed",
                extra={"stream": self.stream.name, "first_id": good[0][0], "size": len(good)},
            )
            return False
        return True

    async def _acknowledge(
        self, ids: list[str], dead: list[tuple[str, dict[Any, Any], str]]
    ) -> None:
        if not ids:
            return
        pipe = self.redis.pipeline(transaction=False)
        for entry_id, fields, error in dead:
            record = dict(fields)
            record[b"dead_source_id"] = entry_id
            record[b"dead_error"] = error[:500]
            pipe.xadd(self.stream.dead_letter, record, maxlen=DEAD_LETTER_MAXLEN, approximate=True)
        if self.fence is None:
            pipe.xack(self.stream.name, self.group, *ids)
            await pipe.execute()
        else:
            if dead:
                await pipe.execute()
            lease, token = self.fence
            await fenced_xack(self.redis, lease, token, self.stream.name, self.group, ids)
        for entry_id, _, error in dead:
            logger.warning(
                "consumer.dead_letter",
                extra={"stream": self.stream.name, "id": entry_id, "error": error[:200]},
            )
        self.dead_lettered += len(dead)
        self.handled += len(ids) - len(dead)
        if dead:
            metrics.DEAD_LETTERS.labels(self.stream.name).inc(len(dead))
        metrics.CONSUMED.labels(self.stream.name, self.group).inc(len(ids) - len(dead))

    def _mark_connected(self) -> None:
        if not self.connected:
            logger.info("consumer.reconnected", extra={"stream": self.stream.name})
        self.connected = True

    async def _pause_after_error(
        self, exc: BaseException, attempt: int, stop: asyncio.Event
    ) -> None:
        metrics.REDIS_ERRORS.labels("consumer").inc()
        if self.connected:
            logger.warning(
                "consumer.redis_unavailable", extra={"stream": self.stream.name, "error": repr(exc)}
            )
        self.connected = False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=self._backoff.delay(attempt - 1))


def consumer_from_settings(
    redis: aredis.Redis, stream: Stream[R], handler: Handler[R], settings: Any, consumer: str
) -> StreamConsumer[R]:
    """A consumer on the stream's group with the CONSUMER_* settings."""
    return StreamConsumer(
        redis,
        stream,
        handler,
        consumer=consumer,
        batch_size=settings.consumer_batch_size,
        block_ms=settings.consumer_block_ms,
        claim_idle_ms=settings.consumer_claim_idle_ms,
        max_deliveries=settings.consumer_max_deliveries,
    )


def _id(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _entries_of(reply: Any) -> list[RawEntry]:
    """Entries of a single-stream XREADGROUP reply (list or RESP3 dict form)."""
    if not reply:
        return []
    if isinstance(reply, dict):
        values = list(reply.values())
        return list(values[0][0]) if values and values[0] else []
    return list(reply[0][1])


async def consumer_lag(redis: aredis.Redis, stream: Stream[Any], group: str) -> int | None:
    """Entries not yet delivered to `group` (Redis 7 `lag`), or None when unknown."""
    try:
        groups: Any = await redis.xinfo_groups(stream.name)
    except ResponseError:
        return None
    for info in groups:
        name = info.get("name")
        if _id(name) == group:
            lag = info.get("lag")
            return int(lag) if lag is not None else None
    return None
