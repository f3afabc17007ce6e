"""`cross-exchange store`: the PostgreSQL writer service (also run inside `run` and `engine`).

It connects (retrying while the database is down), applies the migrations, then runs one
`StreamWriter` per source stream (exchange.raw: funding, open interest, closed klines;
exchange.normalized; exchange.features; exitbrain.status; exitbrain.alerts;
exchange.large_trades), the order-book snapshot job, the retention job, and publishes its
state for /health every few seconds. The writer is not partitioned by owner: it reads every
shard of each sharded stream (`Stream.shards_all`; several writers share each shard's
group `storage`), and a record written to several shards (the stablecoin context) is stored
once (every row has a natural key, inserted ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any, Final

import asyncpg
import redis.asyncio as aredis

from microservices.common.backoff import Backoff
from microservices.common.clock import now_ms
from microservices.common.errors import FatalError
from microservices.common.market_alerts import MARKET_ALERTS, MarketAlert
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS
from microservices.common.settings import Settings
from microservices.common.streams import Stream, Streams, collector_key
from microservices.storage import db, rows, snapshots, store_metrics, tables
from microservices.storage.migrate import migrate
from microservices.storage.sink import Sink, StoreStopped, sleep_or_stop
from microservices.storage.spill import SpillQueue
from microservices.storage.status import StoreStatus, publish_status
from microservices.storage.writer import StreamWriter, ToRows, single

logger = logging.getLogger(__name__)
STATUS_EVERY_S: Final = 3.0


def sources(streams: Streams) -> list[tuple[Stream[Any], ToRows]]:
    """Every stream the writer stores, with how its records become rows."""
    return [
        (streams.raw, rows.raw_rows),
        (streams.normalized, single(rows.normalized_row, tables.NORMALIZED)),
        (streams.features, single(rows.features_row, tables.FEATURES)),
        (streams.status, single(rows.status_row, tables.EXITBRAIN_STATUS)),
        (streams.alerts, single(rows.alert_row, tables.EXITBRAIN_ALERTS)),
        (streams.large_trades, single(rows.large_trade_row, tables.LARGE_TRADES)),
    ]


def shard_sources(streams: Streams) -> list[tuple[Stream[Any], ToRows]]:
    """`sources`, one entry per shard of each stream."""
    return [
        (shard, to_rows) for stream, to_rows in sources(streams) for shard in stream.shards_all()
    ]


class StoreService:
    def __init__(
        self, settings: Settings, redis: aredis.Redis, dsn: str, consumer: str = "store-1"
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.dsn = dsn
        self.consumer = consumer
        self.streams = settings.streams()
        self.status = StoreStatus(since_ms=now_ms())
        self.backoff = Backoff(base_s=0.2, cap_s=settings.store_backoff_cap_s)

    async def run(self, stop: asyncio.Event) -> None:
        # The status loop ends on its own event, never by cancellation: a cancel that lands
        # inside a Redis command can come out as a connection or timeout error, which that
        # loop survives by design, and a task group would then wait for it forever.
        done = asyncio.Event()
        status = asyncio.create_task(self._publish_status(done), name="store-status")
        try:
            pool = await self._connect(stop)
            if pool is not None:
                try:
                    await self._run_jobs(pool, stop)
                finally:
                    await pool.close()
        finally:
            done.set()
            # its last report shows the final state; a Redis that does not answer gets 1 s
            # (shutdown stays under 2 s), then the loop is cancelled and returns at its check
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(status, timeout=1.0)

    async def _run_jobs(self, pool: asyncpg.Pool, stop: asyncio.Event) -> None:
        s = self.settings
        spill = (
            SpillQueue(Path(s.store_spill_dir), int(s.store_spill_max_mb * 1_000_000))
            if s.store_spill_dir
            else None
        )
        sink = Sink(
            pool, self.status, backoff=self.backoff, on_disk_full=self.alert_disk_full,
            spill=spill, spill_after_s=s.store_spill_after_s,
        )  # fmt: skip
        async with asyncio.TaskGroup() as group:
            for stream, to_rows in shard_sources(self.streams):
                for k in range(s.store_workers):  # worker 0 also counts trimmed entries
                    writer = StreamWriter(
                        self.redis, stream, to_rows, sink, self.status, stop,
                        consumer=self.consumer if k == 0 else f"{self.consumer}-{k}",
                        batch_size=s.store_batch_size, block_ms=s.store_block_ms,
                        claim_idle_ms=s.store_claim_idle_ms, counts_loss=k == 0,
                    )  # fmt: skip
                    group.create_task(writer.run(s.stream_prefix), name=f"store-{stream.name}-{k}")
            group.create_task(self._snapshot_books(sink, stop), name="store-orderbooks")
            group.create_task(self._retention(sink, stop), name="store-retention")
            if spill is not None:
                group.create_task(self._drain_spill(sink, spill, stop), name="store-spill")

    async def _connect(self, stop: asyncio.Event) -> asyncpg.Pool | None:
        """A migrated pool, retrying while the database is unreachable; None on stop."""
        attempt = 0
        size = len(shard_sources(self.streams)) * self.settings.store_workers + 3
        while not stop.is_set():
            pool: asyncpg.Pool | None = None
            try:
                pool = await asyncpg.create_pool(
                    self.dsn, min_size=1, max_size=size, command_timeout=120
                )
                async with pool.acquire() as conn:
                    await migrate(conn)
                self.status.set_state("ok", now_ms())
                logger.info("store.connected", extra={"pool": size})
                return pool
            except Exception as exc:
                if pool is not None:
                    await pool.close()
                if db.classify(exc) not in ("unavailable", "disk_full"):
                    # a wrong password, database name or an edited migration: stop, say why
                    raise FatalError(f"storage: {type(exc).__name__}: {exc}") from exc
                if self.status.set_state("database_down", now_ms(), repr(exc)[:300]):
                    logger.warning("store.database_unavailable", extra={"error": repr(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.backoff.delay(attempt))
            attempt += 1
        return None

    async def _snapshot_books(self, sink: Sink, stop: asyncio.Event) -> None:
        s = self.settings
        key = collector_key(s.stream_prefix, "books")
        stale_ms = int(s.aggregator_stale_after_s * 1000)
        while not await sleep_or_stop(stop, s.store_orderbook_interval_s):
            try:
                books: Any = await self.redis.hgetall(key)
            except TRANSIENT_REDIS_ERRORS:
                continue  # the consumers report the outage; the next round tries again
            items, invalid = snapshots.book_items(
                books, s.store_orderbook_levels, now_ms(), stale_ms
            )
            if invalid:
                logger.warning("store.book_invalid", extra={"count": invalid})
            good = [i for i in items if i.table.reject_reason(i.row) is None]
            try:
                inserted, _ = await sink.commit(good, stop)
            except StoreStopped:
                return
            store_metrics.ROWS.labels(tables.ORDERBOOKS.name).inc(sum(inserted.values()))

    async def _retention(self, sink: Sink, stop: asyncio.Event) -> None:
        days = self.settings.retention_days()
        while not await sleep_or_stop(stop, self.settings.store_retention_interval_s):
            for sql, cutoff in snapshots.retention_statements(days, now_ms()):
                table = sql.split()[2]
                try:
                    while not stop.is_set():
                        deleted = int((await sink.run_sql(sql, cutoff)).rsplit(" ", 1)[-1])
                        self.status.add(self.status.retention_deleted, table, deleted)
                        if deleted < snapshots.DELETE_CHUNK:
                            break
                except Exception as exc:
                    error = repr(exc)[:300]
                    logger.warning("store.retention_failed", extra={"table": table, "error": error})

    async def _drain_spill(self, sink: Sink, spill: SpillQueue, stop: asyncio.Event) -> None:
        """Insert spilled batches, oldest first, once the database takes rows again."""
        while True:
            for path in spill.files():
                items = spill.load(path)
                if items is None:
                    continue  # unreadable: set aside by `load`, logged
                try:
                    await sink.commit(items, stop, may_spill=False)
                except StoreStopped:
                    return
                spill.remove(path)
                self.status.spill_files = len(spill.files())
                logger.info("store.spill_drained", extra={"file": path.name, "rows": len(items)})
            if await sleep_or_stop(stop, 1.0):
                return

    async def alert_disk_full(self, error: str) -> None:
        alert = MarketAlert(
            ts_ms=now_ms(), source="storage", type="STORAGE_DISK_FULL", severity="critical",
            reason="PostgreSQL is out of disk space: the writer paused, entries wait in the "
            "streams until it has room",
            data={"error": error},
        )  # fmt: skip
        stream = self.streams.market_alerts
        await self.redis.xadd(
            stream.name, MARKET_ALERTS.encode(alert),  # type: ignore[arg-type]
            maxlen=stream.maxlen, approximate=True,
        )  # fmt: skip

    async def _publish_status(self, done: asyncio.Event) -> None:
        """Report the writer's state every STATUS_EVERY_S, and once more when `done` is set."""
        prefix = self.settings.stream_prefix
        while True:
            store_metrics.UP.set(1 if self.status.state == "ok" else 0)
            with contextlib.suppress(*TRANSIENT_REDIS_ERRORS):
                await publish_status(self.redis, prefix, self.status)
            if done.is_set():
                return
            await sleep_or_stop(done, STATUS_EVERY_S)


def store_service(settings: Settings, redis: aredis.Redis) -> StoreService | None:
    """The writer `run` and `engine` include: None without a database or with STORE_ENABLED
    off (then /health's store block says so)."""
    if not settings.store_enabled or settings.database_url is None:
        return None
    return StoreService(settings, redis, settings.database_url)
