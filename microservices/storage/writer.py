"""One stream -> PostgreSQL: consumer group `storage`, acknowledged only after commit.

`StreamWriter` reads its stream with the common `StreamConsumer` (own pending entries first,
XAUTOCLAIM of a dead writer's, then new ones), turns each batch into rows, commits them with
the `Sink` (which waits out database outages) and returns, so the consumer acknowledges the
entries only after the commit. A crash before the acknowledgement replays the batch, which
inserts nothing new (ON CONFLICT DO NOTHING). Rows that cannot be stored are copied to the
stream's dead letter with the reason. After every batch it checks whether the stream was
trimmed past the group's position and counts those entries as lost (SPEC section 8).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import redis.asyncio as aredis

from microservices.common.consumer import StreamConsumer
from microservices.common.streams import DEAD_LETTER_MAXLEN, Stream
from microservices.storage import store_metrics
from microservices.storage.rows import Item, TableRow
from microservices.storage.sink import Sink
from microservices.storage.status import StoreStatus, loss_update, lost_key

logger = logging.getLogger(__name__)
GROUP = "storage"
ToRows = Callable[[Any], list[TableRow]]


class StreamWriter:
    def __init__(
        self,
        redis: aredis.Redis,
        stream: Stream[Any],
        to_rows: ToRows,
        sink: Sink,
        status: StoreStatus,
        stop: asyncio.Event,
        *,
        consumer: str = "store-1",
        batch_size: int = 2_000,
        block_ms: int = 1_000,
        claim_idle_ms: int = 30_000,
        counts_loss: bool = True,
    ) -> None:
        self.redis = redis
        self.stream = stream
        self._to_rows = to_rows
        self.sink = sink
        self.status = status
        self._stop = stop
        self._baseline = 0  # trimmed-unread entries already counted (loss_update, lost_key)
        self._lost_key = lost_key("")
        self._trimmed_pending = 0
        self._counts_loss = counts_loss  # one writer per stream counts the trimmed gap
        # a stored entry is never poison: it is retried until the database takes it
        self.consumer: StreamConsumer[Any] = StreamConsumer(
            redis, stream, self.handle, group=GROUP, consumer=consumer,
            batch_size=batch_size, block_ms=block_ms, claim_idle_ms=claim_idle_ms,
            max_deliveries=2**31,
        )  # fmt: skip

    async def run(self, prefix: str = "") -> None:
        await self.consumer.ensure_group()
        self._lost_key = lost_key(prefix)
        if self._counts_loss:
            counted = await self.redis.hget(self._lost_key, self.stream.name)
            self._baseline = int(counted or 0)
        await self.check_loss()
        await self.consumer.run(self._stop)

    async def handle(self, batch: list[tuple[str, Any]]) -> None:
        items: list[Item] = []
        rejected: list[tuple[str, Any, str]] = []
        records = dict(batch)
        for entry_id, record in batch:
            for table, row in self._to_rows(record):
                reason = table.reject_reason(row)
                if reason is None:
                    items.append(Item(entry_id, table, row))
                else:
                    rejected.append((entry_id, record, f"{table.name}: {reason}"))
        inserted, refused = await self.sink.commit(items, self._stop)
        rejected += [(item.entry_id, records[item.entry_id], reason) for item, reason in refused]
        if rejected:
            await self._dead_letter(rejected)
        for name, count in inserted.items():
            store_metrics.ROWS.labels(name).inc(count)
        self.status.add(self.status.entries_stored, self.stream.name, len(batch))
        store_metrics.ENTRIES.labels(self.stream.name).inc(len(batch))
        await self.check_loss()

    async def _dead_letter(self, rejected: list[tuple[str, Any, str]]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for entry_id, record, reason in rejected:
            fields: dict[Any, Any] = dict(self.stream.schema.encode(record))
            fields["dead_source_id"] = entry_id
            fields["dead_error"] = f"storage: {reason}"[:500]
            pipe.xadd(self.stream.dead_letter, fields, maxlen=DEAD_LETTER_MAXLEN, approximate=True)
        await pipe.execute()
        self.status.add(self.status.rejected, self.stream.name, len(rejected))
        store_metrics.REJECTED.labels(self.stream.name).inc(len(rejected))
        first = rejected[0]
        logger.warning(
            "store.rejected",
            extra={"stream": self.stream.name, "count": len(rejected), "id": first[0],
                   "reason": first[2][:200]},
        )  # fmt: skip

    async def check_loss(self) -> None:
        """Count entries trimmed before this group read them (each once), and those trimmed
        while pending at this consumer."""
        pending_lost = self.consumer.trimmed_pending - self._trimmed_pending
        self._trimmed_pending = self.consumer.trimmed_pending
        self._record_lost(pending_lost)
        if not self._counts_loss:
            return
        pipe = self.redis.pipeline(transaction=False)
        pipe.xinfo_stream(self.stream.name)
        pipe.xinfo_groups(self.stream.name)
        info, groups = await pipe.execute()
        group = next((g for g in groups if _text(g.get("name")) == GROUP), None)
        if group is None:
            return
        first = info.get("first-entry")
        read = group.get("entries-read")
        before = self._baseline
        lost, self._baseline = loss_update(
            self._baseline, _text(group.get("last-delivered-id")),
            None if not first else _text(first[0]), _text(info.get("last-generated-id")),
            int(info.get("entries-added", 0)), int(info.get("length", 0)),
            None if read is None else int(read),
        )  # fmt: skip
        if self._baseline != before:
            await self.redis.hset(self._lost_key, self.stream.name, self._baseline)
        self._record_lost(lost)

    def _record_lost(self, count: int) -> None:
        if count <= 0:
            return
        self.status.add(self.status.lost, self.stream.name, count)
        store_metrics.LOST.labels(self.stream.name).inc(count)
        logger.warning("store.lost", extra={"stream": self.stream.name, "count": count})


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def single(table_rows: Callable[[Any], Any], table: Any) -> ToRows:
    """A mapper for streams whose every record is one row of `table`."""
    return lambda record: [(table, table_rows(record))]
