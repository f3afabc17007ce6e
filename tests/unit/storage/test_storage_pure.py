"""The storage layer's pure parts: value checks, loss counting, book snapshots, retention,
error classes and the spill queue."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import orjson
import pytest

from microservices.common.book_schema import BookTop, encode_full_book
from microservices.storage import db, tables
from microservices.storage.rows import Item, funding_row
from microservices.storage.snapshots import DELETE_CHUNK, book_items, retention_statements
from microservices.storage.spill import SpillQueue
from microservices.storage.status import loss_update
from tests.factories import header


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        (tables.Column("p", "decimal", 20, 8), 99_999_999_999.99999999, None),
        (
            tables.Column("p", "decimal", 20, 8),
            1e12,
            "column 'p': 1000000000000.0 exceeds DECIMAL(20,8)",
        ),
        # rounded to the scale first, as PostgreSQL does: 99.999999999 -> 100.00000000
        (
            tables.Column("r", "decimal", 10, 8),
            99.999999999,
            "column 'r': 99.999999999 exceeds DECIMAL(10,8)",
        ),
        (tables.Column("r", "decimal", 10, 8), -0.00025, None),
        (tables.Column("p", "decimal", 20, 8), float("nan"), "column 'p': not finite"),
        (tables.Column("s", "text", 50), "x" * 50, None),
        (tables.Column("s", "text", 50), "x" * 51, "column 's': 51 characters, at most 50"),
        (tables.Column("f", "float"), float("inf"), "column 'f': not finite"),
        (tables.Column("i", "int"), 2**63, "column 'i': outside BIGINT"),
        (tables.Column("n", "float", nullable=True), None, None),
        (tables.Column("n", "float"), None, "column 'n': missing"),
    ],
)
def test_column_checks(column: tables.Column, value: object, reason: str | None) -> None:
    assert column.reject(value) == reason
    assert column.fits()(value) is (reason is None)  # the fast path agrees


def test_a_funding_row_fits_its_table() -> None:
    from microservices.common.records import Funding

    record = Funding(**header(exchange="bybit", market="perp"), funding_rate=0.0001,
                     funding_interval_h=8.0)  # fmt: skip
    row = funding_row(record)
    assert len(row) == len(tables.FUNDING_RATES.columns)
    assert tables.FUNDING_RATES.reject_reason(row) is None


def test_loss_counted_once_per_gap() -> None:
    # read everything: nothing never-read, nothing lost
    assert loss_update(0, "5-0", "1-0", "5-0", 5, 5, 5) == (0, 0)
    # 10 more added, the stream trimmed to 4 (ids 12..15) before the group read any: 6 lost
    assert loss_update(0, "5-0", "12-0", "15-0", 15, 4, 5) == (6, 6)
    # the same gap seen again before the read: nothing new
    assert loss_update(6, "5-0", "12-0", "15-0", 15, 4, 5) == (0, 6)
    # after the read over the gap Redis still counts it as never read: nothing new
    assert loss_update(6, "15-0", "12-0", "15-0", 15, 4, 9) == (0, 6)
    # another worker read over a gap of 3 before this check ran: counted once read up
    assert loss_update(6, "20-0", "19-0", "20-0", 20, 2, 11) == (3, 9)
    # a second gap seen before the read: only the new 3
    assert loss_update(9, "20-0", "24-0", "25-0", 25, 2, 11) == (3, 12)
    # the counter re-estimated (XDEL tombstones): follow it down, count nothing
    assert loss_update(6, "15-0", "12-0", "15-0", 15, 4, 15) == (0, 0)
    # behind but no gap: the unread part is unknown, nothing counted
    assert loss_update(0, "5-0", "3-0", "9-0", 9, 7, 5) == (0, 0)
    # a fresh group (entries_read unknown): nothing counted
    assert loss_update(0, "0-0", "12-0", "15-0", 15, 4, None) == (0, 0)


def book(**changes: object) -> BookTop:
    fields: dict[str, object] = {
        "exchange": "coinbase", "market": "spot", "symbol": "BTCUSD", "venue_symbol": "BTC-USD",
        "group": "BTCUSDT", "quote": "USD", "ts_ms": 1_700_000_000_000,
        "recv_ms": 1_700_000_000_050, "sequence": 42,
        "bids": [(100.0 - i, 1.0 + i) for i in range(60)],
        "asks": [(101.0 + i, 2.0) for i in range(3)], "bid_levels": 60, "ask_levels": 3,
        "bid_depth_10bps": 1.0, "ask_depth_10bps": 1.0, "bid_depth_50bps": 1.0,
        "ask_depth_50bps": 1.0,
    }  # fmt: skip
    fields.update(changes)
    return BookTop(**fields)  # type: ignore[arg-type]


def test_book_snapshots_keep_the_top_levels_of_fresh_books() -> None:
    books = {
        b"coinbase:BTCUSDT": encode_full_book(book()),
        b"binance:BTCUSDT": encode_full_book(book(exchange="binance", recv_ms=1_699_999_000_000)),
        b"okx:BTCUSDT": b"{not json",
    }
    items, invalid = book_items(books, levels=50, now_ms=1_700_000_001_000, stale_after_ms=30_000)
    assert invalid == 1
    assert len(items) == 1  # binance's book is 1,001 s old: stale, skipped
    row = items[0].row
    assert row[0] == "coinbase_BTC-USD_1700000000000"
    assert row[1:5] == ("coinbase", "BTC-USD", "BTCUSD", "BTCUSDT")
    bids, asks = orjson.loads(row[5]), orjson.loads(row[6])
    assert len(bids) == 50 and bids[0] == [100.0, 1.0] and bids[49] == [51.0, 50.0]
    assert asks == [[101.0, 2.0], [102.0, 2.0], [103.0, 2.0]]
    assert row[7] == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC) and row[8] == 42
    assert tables.ORDERBOOKS.reject_reason(row) is None


def test_retention_statements_per_table() -> None:
    now = 1_700_000_000_000
    out = dict(retention_statements({"large_trades": 2, "ohlc": 1.5, "features": 0}, now))
    cutoffs = {sql.split()[2]: cutoff for sql, cutoff in out.items()}
    assert cutoffs == {
        "large_trades": datetime(2023, 11, 12, 22, 13, 20, tzinfo=UTC),
        "ohlc": datetime(2023, 11, 13, 10, 13, 20, tzinfo=UTC),
    }  # features: 0 = kept forever
    ohlc_sql = next(sql for sql in out if sql.split()[2] == "ohlc")
    assert "open_time < $1" in ohlc_sql and f"LIMIT {DELETE_CHUNK}" in ohlc_sql


def test_error_classes() -> None:
    assert db.classify(asyncpg.exceptions.DiskFullError("no space")) == "disk_full"
    assert db.classify(asyncpg.exceptions.AdminShutdownError("bye")) == "unavailable"
    assert db.classify(asyncpg.exceptions.NumericValueOutOfRangeError("x")) == "data"
    assert db.classify(asyncpg.exceptions.StringDataRightTruncationError("x")) == "data"
    assert db.classify(ConnectionRefusedError()) == "unavailable"
    assert db.classify(asyncpg.exceptions.UndefinedTableError("x")) == "other"


def test_spill_queue_round_trip_and_limit(tmp_path: Path) -> None:
    queue = SpillQueue(tmp_path / "spill", max_bytes=2_000)
    when = datetime(2024, 1, 1, tzinfo=UTC)
    items = [Item("1-0", tables.EXITBRAIN_ALERTS, ("BTCUSDT", when, "DATA_STALE", "r", 1))]
    assert queue.put(items)
    [path] = queue.files()
    loaded = queue.load(path)
    assert loaded is not None
    assert [(i.table, i.row) for i in loaded] == [(tables.EXITBRAIN_ALERTS, items[0].row)]
    big = [Item("", tables.EXITBRAIN_ALERTS, ("X", when, "T", "r" * 3_000, 1))]
    assert not queue.put(big)  # over the limit: refused, nothing written
    assert len(queue.files()) == 1
    queue.remove(path)
    assert queue.files() == []
    broken = tmp_path / "spill" / "00000000000000000001-1-000001.spill"
    broken.write_bytes(b"not a pickle")
    assert queue.load(broken) is None
    assert broken.with_suffix(".unreadable").exists() and queue.files() == []
