"""Order-book snapshots and retention: the writer's two periodic jobs.

Snapshots: every STORE_ORDERBOOK_INTERVAL_S the writer reads the collector's whole books (the
`<prefix>collector.books` hash, see `book_schema`) and stores one `exchange_orderbooks` row per
venue and symbol: the top STORE_ORDERBOOK_LEVELS levels per side, keyed
`{exchange}_{venue symbol}_{book time ms}` (an unchanged book is not stored twice). Books older
than the aggregator's staleness limit are skipped (the collector stopped updating them).

Retention: every STORE_RETENTION_INTERVAL_S, per table with a retention, rows older than it are
deleted in chunks (short transactions, no long lock on a busy table).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from microservices.common.book_schema import decode_full_book
from microservices.common.errors import SchemaError
from microservices.storage import tables
from microservices.storage.rows import Item, orderbook_row

logger = logging.getLogger(__name__)
DELETE_CHUNK: Final = 50_000


def book_items(
    books: Mapping[Any, Any], levels: int, now_ms: int, stale_after_ms: int
) -> tuple[list[Item], int]:
    """(snapshot rows of the fresh books, count of hash values that are not books). Pure."""
    items: list[Item] = []
    invalid = 0
    for value in books.values():
        try:
            top = decode_full_book(value)
        except SchemaError:
            invalid += 1
            continue
        if now_ms - top.recv_ms > stale_after_ms:
            continue
        row = orderbook_row(
            top.exchange, top.venue_symbol, top.symbol, top.group, top.ts_ms,
            [list(level) for level in top.bids[:levels]],
            [list(level) for level in top.asks[:levels]], top.sequence,
            {"market": top.market, "quote": top.quote, "received_at_ms": top.recv_ms,
             "bid_levels": top.bid_levels, "ask_levels": top.ask_levels},
        )  # fmt: skip
        items.append(Item("", tables.ORDERBOOKS, row))
    return items, invalid


def retention_statements(days: Mapping[str, float], now_ms: int) -> list[tuple[str, datetime]]:
    """(DELETE statement taking the cutoff as $1, cutoff) per table with a retention. Pure."""
    now = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    out = []
    for table, keep in days.items():
        if keep <= 0:
            continue
        column = tables.TIME_COLUMN[table]
        sql = (
            f"DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table} "
            f"WHERE {column} < $1 LIMIT {DELETE_CHUNK}))"
        )
        out.append((sql, now - timedelta(days=keep)))
    return out
