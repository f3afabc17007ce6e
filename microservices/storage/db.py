"""Idempotent batch inserts with asyncpg, and how database errors are classified.

`insert_rows` COPYs a batch into a temporary table shaped like the target (created once per
connection, emptied at commit) and moves it with `INSERT ... SELECT ... ON CONFLICT DO
NOTHING`, so a replayed batch, or the same key twice in one batch, inserts once. The caller
owns the transaction: every table of a batch commits together, then the stream entries are
acknowledged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Literal

import asyncpg

from microservices.storage.tables import Table

ErrorClass = Literal["disk_full", "unavailable", "data", "other"]
DISK_FULL_STATES: Final = frozenset({"53100", "53000"})  # disk_full, insufficient_resources
UNAVAILABLE_STATES_PREFIXES: Final = ("08", "57P", "53300")  # connection, shutdown, too many


def temp_name(table: Table) -> str:
    return f"_in_{table.name}"


async def insert_rows(conn: Any, table: Table, rows: Sequence[tuple[Any, ...]]) -> int:
    """Insert `rows` into `table` inside the caller's transaction; returns rows new to it.
    (`conn`: an asyncpg connection or a pool's proxy of one.)"""
    if not rows:
        return 0
    if not conn.is_in_transaction():  # the temporary table empties at every commit
        raise RuntimeError("insert_rows runs inside a transaction")
    temp = temp_name(table)
    await conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {temp} "
        f"(LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    columns = table.column_names
    await conn.copy_records_to_table(temp, records=rows, columns=columns)
    names = ", ".join(columns)
    status = await conn.execute(
        f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {temp} ON CONFLICT DO NOTHING"
    )
    await conn.execute(f"TRUNCATE {temp}")  # emptied now: row-by-row retries reuse it
    return int(status.rsplit(" ", 1)[-1])


def classify(exc: BaseException) -> ErrorClass:
    """disk_full: pause and alert; unavailable: retry with backoff; data: a row the table
    refuses (bisect it out); other: a bug or a schema mismatch (retry, logged)."""
    state = getattr(exc, "sqlstate", None)
    if isinstance(state, str):
        if state in DISK_FULL_STATES:
            return "disk_full"
        if state.startswith(UNAVAILABLE_STATES_PREFIXES):
            return "unavailable"
        if state.startswith(("22", "23")):  # data exception, integrity violation
            return "data"
        return "other"
    if isinstance(
        exc,
        OSError | TimeoutError | asyncpg.InterfaceError | asyncpg.exceptions.ConnectionFailureError,
    ):
        return "unavailable"
    return "other"
