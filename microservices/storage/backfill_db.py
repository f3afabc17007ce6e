"""`cross-exchange backfill --to-db`: REST history into the `ohlc`, `funding_rates` and
`open_interest` tables instead of a file (replaces the CSV history).

The same paginated, rate-limited fetch as the file backfill; each venue x symbol is inserted
in one transaction, idempotently (ON CONFLICT DO NOTHING), so re-running a backfill over the
same days adds only what is new. Only finished bars become `ohlc` rows; rows that do not fit
their columns are counted and skipped.
"""

from __future__ import annotations

import asyncio
import sys

import asyncpg

from microservices.common.errors import FatalError
from microservices.common.records import RawRecord
from microservices.common.settings import Settings
from microservices.data_collector.backfill import BackfillFailed, fetch_history
from microservices.data_collector.exchange_data_collector import Kind
from microservices.storage import db
from microservices.storage.migrate import migrate
from microservices.storage.rows import Item, raw_rows
from microservices.storage.sink import by_table


def history_items(records: list[RawRecord]) -> tuple[list[Item], int]:
    """(rows to insert, rows refused by their columns). Pure."""
    items, refused = [], 0
    for record in records:
        for table, row in raw_rows(record):
            if table.reject_reason(row) is None:
                items.append(Item("", table, row))
            else:
                refused += 1
    return items, refused


async def store_history(dsn: str, batches: list[list[RawRecord]]) -> tuple[int, int, int]:
    """(rows fetched, rows new to the tables, rows refused)."""
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
        fetched = inserted = refused = 0
        for records in batches:
            items, bad = history_items(records)
            fetched, refused = fetched + len(items) + bad, refused + bad
            async with conn.transaction():
                for table, rows in by_table(items).items():
                    inserted += await db.insert_rows(conn, table, rows)
        return fetched, inserted, refused
    finally:
        await conn.close()


def run_backfill_to_db(
    settings: Settings, venues: list[str], symbols: list[str], kind: Kind, days: float
) -> int:
    dsn = settings.database_url
    if dsn is None:
        raise FatalError(
            "--to-db needs DATABASE_URL (`run` prints its private cluster's psql line; "
            "its URL is postgresql://ce:<PG_DATA_DIR/password>@127.0.0.1:<port>/ce)"
        )

    async def both() -> tuple[int, int, int]:
        batches = await fetch_history(settings, venues, symbols, kind, days)
        return await store_history(dsn, batches)

    try:
        fetched, inserted, refused = asyncio.run(both())
    except BackfillFailed as exc:
        print(f"cross-exchange backfill: {exc}", file=sys.stderr)
        return 1
    except (OSError, asyncpg.PostgresError) as exc:
        raise FatalError(f"database: {type(exc).__name__}: {exc}") from None
    print(f"stored {inserted} new rows of {fetched} ({kind}; {refused} refused) in the database")
    return 0
