"""Commit a batch of rows to PostgreSQL, whatever it takes, or give up only on stop.

`Sink.commit` writes every table of a batch in one transaction and returns only after the
commit, so the caller acknowledges stream entries only when their rows are durable. While the
database is unreachable or its disk is full it retries with capped, jittered backoff (state
`database_down` / `disk_full` in the status; the first switch to `disk_full` raises a
STORAGE_DISK_FULL alert through `on_disk_full`), and it returns when the database is back.
A row the database refuses (a data error the pre-checks of `tables` did not foresee) is
found by re-inserting the batch row by row, each under a savepoint, and returned as
rejected; the rest commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from microservices.common.backoff import Backoff
from microservices.common.clock import now_ms
from microservices.storage import db
from microservices.storage.rows import Item
from microservices.storage.spill import SpillQueue
from microservices.storage.status import State, StoreStatus
from microservices.storage.tables import Table

logger = logging.getLogger(__name__)
Insert = Callable[[Any, Table, Sequence[tuple[Any, ...]]], Awaitable[int]]


class StoreStopped(Exception):
    """Stop was requested while a batch was still uncommitted: its entries stay pending."""


def by_table(items: Sequence[Item]) -> dict[Table, list[tuple[Any, ...]]]:
    grouped: dict[Table, list[tuple[Any, ...]]] = {}
    for item in items:
        grouped.setdefault(item.table, []).append(item.row)
    return grouped


class Sink:
    def __init__(
        self,
        pool: asyncpg.Pool,
        status: StoreStatus,
        *,
        backoff: Backoff,
        on_disk_full: Callable[[str], Awaitable[None]] | None = None,
        insert: Insert | None = None,
        spill: SpillQueue | None = None,
        spill_after_s: float = 5.0,
    ) -> None:
        self.pool = pool
        self.status = status
        self._backoff = backoff
        self._on_disk_full = on_disk_full
        self._insert: Insert = insert or db.insert_rows
        self.spill = spill
        self._spill_after_s = spill_after_s
        self._down_since: float | None = None  # monotonic time of the outage's first failure

    async def commit(
        self, items: Sequence[Item], stop: asyncio.Event, *, may_spill: bool = True
    ) -> tuple[dict[str, int], list[tuple[Item, str]]]:
        """Store `items` (committed, or spilled durably once the outage is long); returns
        (new rows per table, rejected items with the reason). Nothing to store needs no
        database: a batch of trades and tickers is acknowledged even during an outage."""
        if not items:
            return {}, []
        attempt = 0
        while True:
            try:
                inserted = await self._transaction(items)
            except (asyncio.CancelledError, StoreStopped):
                raise
            except Exception as exc:
                kind = db.classify(exc)
                if kind == "data":
                    return await self._row_by_row(items)
                await self._failed(kind, exc)
                if may_spill and self._spilled(items):
                    return {}, []
                if await sleep_or_stop(stop, self._backoff.delay(attempt)):
                    raise StoreStopped from exc
                attempt += 1
                continue
            self._succeeded()
            for table, count in inserted.items():
                self.status.add(self.status.rows_inserted, table, count)
            return inserted, []

    async def run_sql(self, sql: str, *args: Any) -> str:
        """One statement outside a batch (retention); errors propagate."""
        async with self.pool.acquire() as conn:
            return str(await conn.execute(sql, *args))

    async def _transaction(self, items: Sequence[Item]) -> dict[str, int]:
        inserted: dict[str, int] = {}
        async with self.pool.acquire() as conn, conn.transaction():
            for table, rows in by_table(items).items():
                inserted[table.name] = await self._insert(conn, table, rows)
        return inserted

    async def _row_by_row(
        self, items: Sequence[Item]
    ) -> tuple[dict[str, int], list[tuple[Item, str]]]:
        inserted: dict[str, int] = {}
        rejected: list[tuple[Item, str]] = []
        async with self.pool.acquire() as conn, conn.transaction():
            for item in items:
                try:
                    async with conn.transaction():  # a savepoint per row
                        count = await self._insert(conn, item.table, [item.row])
                except asyncpg.PostgresError as exc:
                    if db.classify(exc) != "data":
                        raise
                    rejected.append((item, f"{type(exc).__name__}: {exc}"[:300]))
                    continue
                inserted[item.table.name] = inserted.get(item.table.name, 0) + count
        self._succeeded()
        for table, count in inserted.items():
            self.status.add(self.status.rows_inserted, table, count)
        return inserted, rejected

    def _spilled(self, items: Sequence[Item]) -> bool:
        """Spill `items` when the outage has lasted STORE_SPILL_AFTER_S and the queue has room."""
        down_for = time.monotonic() - (self._down_since or time.monotonic())
        if self.spill is None or down_for < self._spill_after_s:
            return False
        try:
            if not self.spill.put(items):
                return False
        except OSError as exc:
            logger.warning("store.spill_failed", extra={"error": repr(exc)[:300]})
            return False
        self.status.spilled_rows += len(items)
        self.status.spill_files = len(self.spill.files())
        return True

    async def _failed(self, kind: str, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
        state: State = "disk_full" if kind == "disk_full" else "database_down"
        error = f"{type(exc).__name__}: {exc}"[:300]
        if self.status.set_state(state, now_ms(), error):
            logger.warning("store.paused", extra={"state": state, "error": error})
            if state == "disk_full" and self._on_disk_full is not None:
                with contextlib.suppress(Exception):  # the alert must not stop the retries
                    await self._on_disk_full(error)
        elif kind == "other":
            logger.warning("store.retry", extra={"error": error})

    def _succeeded(self) -> None:
        self._down_since = None
        self.status.last_commit_ms = now_ms()
        previous = self.status.state
        if self.status.set_state("ok", self.status.last_commit_ms):
            logger.info("store.resumed", extra={"after": previous})


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to `seconds`; True when stop was set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()
