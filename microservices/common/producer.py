"""Batched, outage-tolerant stream producer.

`publish()` is synchronous and cheap: it packs the record with its stream's schema (RESP
text) and appends it to a bounded buffer. A background task (`run`) writes the buffer in
batches of up to `batch_size` (one batch-XADD script call per stream, see `batch_xadd`),
flushing when a batch is full or after `flush_interval_ms`. When Redis is down the buffer
keeps the newest `buffer_size` records (the oldest are dropped and counted: for exits, fresh
data matters more than old data), the writer retries with capped jittered backoff, and
delivers what it holds once Redis is back. Delivery is at least once: a write that failed
midway is written again in full (one batch per stream is atomic, the next may not be).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import redis.asyncio as aredis

from microservices.common import metrics
from microservices.common.backoff import Backoff
from microservices.common.batch_xadd import group_by_stream, write_batches
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS, socket_timeout
from microservices.common.streams import Stream

logger = logging.getLogger(__name__)
R = TypeVar("R")
# One buffered entry: (stream name, MAXLEN, (RESP argument count, RESP text of its fields))
Pending = tuple[str, int, tuple[int, str]]


class StreamProducer:
    def __init__(
        self,
        redis: aredis.Redis,
        *,
        batch_size: int = 500,
        flush_interval_ms: int = 5,
        buffer_size: int = 100_000,
        backoff: Backoff | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self._redis = redis
        # one deadline for reading a write's replies: the client's own socket timeout
        self._timeout_s = socket_timeout(redis)
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_ms / 1000
        self._buffer: deque[Pending] = deque()
        self._buffer_size = buffer_size
        self._backoff = backoff or Backoff(base_s=0.05, cap_s=2.0)
        self._sleep = sleep
        self._wakeup = asyncio.Event()
        self.sent = 0
        self.dropped = 0
        self.failures = 0
        self.connected = True

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def publish(self, stream: Stream[R], record: R) -> None:
        """Queue one record (to its shard, or every shard for a context record: see
        `sharding`); never blocks and never raises on a Redis outage."""
        if stream.shards == 1:
            self._append((stream.name, stream.maxlen, stream.schema.pack(record)))
            return
        packed = stream.schema.pack(record)
        for name in stream.route(record):
            self._append((name, stream.maxlen, packed))

    def _append(self, item: Pending) -> None:
        buffer = self._buffer
        if len(buffer) >= self._buffer_size:
            dropped_stream = buffer.popleft()[0]
            self.dropped += 1
            metrics.DROPPED.labels(dropped_stream).inc()
        buffer.append(item)
        if len(buffer) >= self._batch_size or len(buffer) == 1:
            self._wakeup.set()

    async def flush(self) -> int:
        """Write everything buffered now; raises on a Redis error (records stay buffered)."""
        written = 0
        while self._buffer:
            count = min(self._batch_size, len(self._buffer))
            batch = [self._buffer.popleft() for _ in range(count)]
            try:
                await self._write(batch)
            except BaseException:
                self._buffer.extendleft(reversed(batch))
                self._trim_after_requeue()
                raise
            written += count
        return written

    def _trim_after_requeue(self) -> None:
        while len(self._buffer) > self._buffer_size:
            self._buffer.popleft()
            self.dropped += 1

    async def _write(self, batch: list[Pending]) -> None:
        started = time.perf_counter()
        batches = group_by_stream(batch)
        await write_batches(self._redis, batches, self._timeout_s)
        metrics.PUBLISH_BATCH_SECONDS.observe(time.perf_counter() - started)
        self.sent += len(batch)
        for stream_batch in batches:
            metrics.PUBLISHED.labels(stream_batch.name).inc(len(stream_batch.entries))

    async def run(self, stop: asyncio.Event, drain_timeout_s: float = 5.0) -> None:
        """Flush until `stop` is set, then try to drain what is left for `drain_timeout_s`."""
        attempt = 0
        while not stop.is_set():
            await self._wait_for_work(stop)
            try:
                await self.flush()
            except TRANSIENT_REDIS_ERRORS as exc:
                attempt += 1
                await self._on_failure(exc, attempt, stop)
                continue
            if not self.connected:
                logger.info("producer.reconnected", extra={"buffered": self.pending})
            self.connected = True
            attempt = 0
            metrics.PRODUCER_BUFFERED.set(self.pending)
        await self._drain(drain_timeout_s)

    async def _wait_for_work(self, stop: asyncio.Event) -> None:
        if not self._buffer:
            self._wakeup.clear()
            waiter = asyncio.ensure_future(self._wakeup.wait())
            stopper = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                stopper.cancel()
        if len(self._buffer) < self._batch_size and not stop.is_set():
            await self._sleep(self._flush_interval_s)

    async def _on_failure(self, exc: BaseException, attempt: int, stop: asyncio.Event) -> None:
        self.failures += 1
        metrics.REDIS_ERRORS.labels("producer").inc()
        metrics.PRODUCER_BUFFERED.set(self.pending)
        if self.connected:
            logger.warning(
                "producer.redis_unavailable",
                extra={"error": repr(exc), "buffered": self.pending},
            )
        self.connected = False
        delay = self._backoff.delay(attempt - 1)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)

    async def _drain(self, timeout_s: float) -> None:
        if not self._buffer:
            return
        try:
            await asyncio.wait_for(self.flush(), timeout=timeout_s)
        except (TimeoutError, *TRANSIENT_REDIS_ERRORS) as exc:
            logger.warning(
                "producer.shutdown_undelivered",
                extra={"buffered": self.pending, "error": repr(exc)},
            )


@contextlib.asynccontextmanager
async def producing(producer: StreamProducer, drain_timeout_s: float = 5.0) -> AsyncIterator[None]:
    """Run the producer's writer for the block and drain it after the block ends.

    Everything that publishes runs inside the block, so its last records are written before
    the writer stops (stopping both with one event would race the final publishes).
    """
    stop = asyncio.Event()
    writer = asyncio.create_task(producer.run(stop, drain_timeout_s), name="producer")
    try:
        yield
    finally:
        stop.set()
        await writer
