"""The generic book-sync parts: level validation (a whole list or nothing), and `BookSet`,
which never lets a crossed or resyncing book be read and counts every reason."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from microservices.common.orderbook.book import OrderBook
from microservices.common.orderbook.sync import (
    BadLevel,
    BookSet,
    BookUpdate,
    Resync,
    ResyncReason,
    WireLevel,
    parse_level,
    parse_levels,
)


def test_parse_levels_reads_wire_strings_and_numbers() -> None:
    raw = [["0.35130000", "6195.00000000"], ["0.3475", 0], [2, "1e-3"]]
    assert parse_levels(raw) == [(0.3513, 6195.0), (0.3475, 0.0), (2.0, 0.001)]


@pytest.mark.parametrize(
    "bad",
    [
        ["NaN", "1"],
        ["1", "nan"],
        ["inf", "1"],
        ["1", "-Infinity"],
        ["1", "-0.5"],
        ["0", "1"],  # a price must be positive
        ["-3", "1"],
        ["abc", "1"],
        ["1", ""],
        [True, "1"],
        [None, "1"],
        ["1"],
        "1,2",
    ],
)
def test_a_bad_level_rejects_the_whole_list(bad: Any) -> None:
    with pytest.raises(BadLevel):
        parse_levels([["100.0", "1.0"], bad, ["99.0", "2.0"]])


def test_parse_level_bounds() -> None:
    assert parse_level("1e-8", "0") == (1e-8, 0.0)
    with pytest.raises(BadLevel):
        parse_level("1e400", "1")  # overflows to inf


def test_wire_level_type_applies_the_same_rules() -> None:
    """The msgspec level type the venue decoders use rejects what parse_level rejects."""
    decode = msgspec.json.Decoder(list[WireLevel], strict=False).decode
    assert decode(b'[["0.3513","6195.0"],["2",0]]') == [(0.3513, 6195.0), (2.0, 0.0)]
    for bad in (b'[["NaN","1"]]', b'[["1","-1"]]', b'[["0","1"]]', b'[["x","1"]]',
                b'[["1e400","1"]]', b'[["1","Infinity"]]'):  # fmt: skip
        with pytest.raises(msgspec.ValidationError):
            decode(bad)


def test_crossed_result_is_cleared_resynced_and_not_published() -> None:
    seen: list[BookUpdate] = []
    books = BookSet("resubscribe", on_applied=lambda update, book: seen.append(update))
    ok = books.load("BTC-USD", ([(100.0, 1.0)], [(101.0, 2.0)]), None, 5)
    assert ok == BookUpdate("BTC-USD", None, 5, applied=True, snapshot=True)
    books.book("BTC-USD").apply([(101.5, 1.0)], [])  # bid above the best ask
    result = books.applied("BTC-USD", None, 6)
    assert result == Resync("BTC-USD", ResyncReason.CROSSED, "resubscribe")
    assert books.get("BTC-USD") is None  # nothing to read while rebuilding
    book = books.book("BTC-USD")
    assert (book.bid_levels, book.ask_levels) == (0, 0)  # cleared
    assert seen == [ok]  # the crossed book was never handed out
    assert books.stats.as_dict() == {"applied": 1, "resyncs": {"crossed": 1}, "dropped": {}}


def test_snapshot_on_a_live_book_counts_a_venue_reset() -> None:
    books = BookSet("resubscribe", max_depth=2)
    books.load("X", ([(10.0, 1.0), (9.0, 1.0), (8.0, 1.0)], [(11.0, 1.0)]), 1, None)
    book = books.get("X")
    assert isinstance(book, OrderBook) and book.bids() == [(10.0, 1.0), (9.0, 1.0)]  # capped
    books.load("X", ([(7.0, 3.0)], [(12.0, 4.0)]), 1, None)
    assert books.get("X") is book and book.bids() == [(7.0, 3.0)]
    assert books.stats.resyncs == {"venue_reset": 1}


def test_skip_counts_and_resync_all_covers_every_book() -> None:
    books = BookSet("rest_snapshot")
    assert books.skip("A", "stale", 7) == BookUpdate("A", 7, None, applied=False)
    books.load("A", ([(1.0, 1.0)], [(2.0, 1.0)]), 1, None)
    books.load("B", ([(1.0, 1.0)], [(2.0, 1.0)]), 1, None)
    assert list(books.symbols()) == ["A", "B"]
    resyncs = books.resync_all(ResyncReason.RECONNECT)
    assert [(r.symbol, r.reason, r.action) for r in resyncs] == [
        ("A", "reconnect", "rest_snapshot"), ("B", "reconnect", "rest_snapshot")
    ]  # fmt: skip
    assert list(books.symbols()) == []
    assert books.stats.dropped == {"stale": 1} and books.stats.resyncs == {"reconnect": 2}
    books.drop("A")
    assert books.get("A") is None
