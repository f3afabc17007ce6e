"""Deribit book rules (`book.{instrument}.100ms`): every rule on small frames written from the
documented format, and the real 2021 capture in ../shared/fixtures, whose 36 changes each
chain to the frame before them (`prev_change_id` == last `change_id`). Deribit publishes no
checksum, so a lost change is caught by the id chain only."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from microservices.common.orderbook.book import OrderBook
from microservices.common.orderbook.sync import BookUpdate, Resync, ResyncReason, VenueBookSync
from microservices.data_collector.exchanges.deribit.book import BOOKS
from tests.fixture_paths import capture_frames, shared_fixture

CAPTURE = "deribit/ws/options_book_trades_ticker_raw.cryptofeed-2021.jsonl"
TARDIS = "deribit/ws/tardis-node_mappers-test_samples.jsonl"
SYM = "BTC_USDC-PERPETUAL"


def frame(kind: str | None, change_id: int, bids: list[Any], asks: list[Any],
          prev: int | None = None, channel: str = f"book.{SYM}.100ms") -> str:  # fmt: skip
    data: dict[str, Any] = {"timestamp": 1_700_000_000_000 + change_id, "instrument_name": SYM,
                            "change_id": change_id, "bids": bids, "asks": asks}  # fmt: skip
    if kind is not None:
        data["type"] = kind
    if prev is not None:
        data["prev_change_id"] = prev
    msg = {"jsonrpc": "2.0", "method": "subscription",
           "params": {"channel": channel, "data": data}}  # fmt: skip
    return orjson.dumps(msg).decode()


SNAPSHOT = frame("snapshot", 10, [["new", 100.0, 1.0], ["new", 99.5, 2.0]],
                 [["new", 101.0, 3.0], ["new", 101.5, 4.0]])  # fmt: skip


def top(sync: VenueBookSync, symbol: str = SYM) -> tuple[Any, Any]:
    book = sync.books.get(symbol)
    assert book is not None
    return book.bids(2), book.asks(2)


def test_snapshot_then_chained_changes() -> None:
    applied: list[tuple[int | None, bool]] = []

    def hook(update: BookUpdate, book: OrderBook) -> None:
        applied.append((update.sequence, update.snapshot))

    sync = BOOKS.new(hook)
    assert isinstance(sync.on_frame(SNAPSHOT), BookUpdate)
    change = frame("change", 11, [["change", 100.0, 1.5], ["delete", 99.5, 0.0]],
                   [["new", 100.5, 0.7]], prev=10)  # fmt: skip
    result = sync.on_frame(change)
    assert isinstance(result, BookUpdate) and result.applied and result.ts_ms == 1_700_000_000_011
    assert top(sync) == ([(100.0, 1.5)], [(100.5, 0.7), (101.0, 3.0)])
    assert applied == [(10, True), (11, False)]


def test_a_break_in_the_chain_is_a_gap_and_a_repeat_is_dropped() -> None:
    sync = BOOKS.new()
    sync.on_frame(SNAPSHOT)
    assert sync.on_frame(frame("change", 11, [], [["new", 102.0, 1.0]], prev=10)) is not None
    repeat = sync.on_frame(frame("change", 11, [], [["new", 102.0, 1.0]], prev=10))
    assert isinstance(repeat, BookUpdate) and not repeat.applied
    gap = sync.on_frame(frame("change", 14, [], [["new", 102.5, 1.0]], prev=13))
    assert gap == Resync(SYM, ResyncReason.GAP, "resubscribe")
    assert sync.books.get(SYM) is None
    # changes wait for the resubscription's snapshot
    late = sync.on_frame(frame("change", 15, [], [], prev=14))
    assert isinstance(late, BookUpdate) and not late.applied
    assert isinstance(sync.on_frame(SNAPSHOT), BookUpdate) and sync.books.live(SYM)
    assert sync.books.stats.as_dict() == {
        "applied": 3, "resyncs": {"gap": 1},
        "dropped": {"duplicate": 1, "before_snapshot": 1}}  # fmt: skip


def test_bad_levels_crossed_books_and_other_frames() -> None:
    sync = BOOKS.new()
    sync.on_frame(SNAPSHOT)
    bad = frame("change", 11, [["new", "NaN", 1.0]], [], prev=10)
    assert sync.on_frame(bad) == Resync(SYM, ResyncReason.BAD_LEVEL, "resubscribe")
    sync.on_frame(SNAPSHOT)
    crossed = frame("change", 11, [["new", 101.2, 1.0]], [], prev=10)
    assert sync.on_frame(crossed) == Resync(SYM, ResyncReason.CROSSED, "resubscribe")
    grouped = frame("snapshot", 1, [], [], channel=f"book.{SYM}.none.10.100ms")
    assert sync.on_frame(grouped) is None  # the grouped top-N channel is not ours
    ticker = '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.X.100ms"}}'
    assert sync.on_frame(ticker) is None
    assert BOOKS.router()(SNAPSHOT) and not BOOKS.router()(ticker)
    sync.on_frame(SNAPSHOT)
    assert [r.reason for r in sync.reconnect()] == [ResyncReason.RECONNECT]


def test_frames_of_2019_without_type() -> None:
    """tardis samples: no `type`; without `prev_change_id` a frame is a snapshot. The two
    samples are not consecutive (1776289261, then a change after 1776294621): a gap."""
    frames = [f for f in capture_frames(shared_fixture(TARDIS)) if '"book.ETH-PERPETUAL' in f]
    sync = BOOKS.new()
    first = sync.on_frame(frames[0])
    assert isinstance(first, BookUpdate) and first.snapshot and first.sequence == 1776289261
    # ETH-PERPETUAL amounts are USD: kept in ETH at each level's price
    bids, asks = top(sync, "ETH-PERPETUAL")
    assert bids == [(217.8, pytest.approx(1895 / 217.8)), (217.75, pytest.approx(712 / 217.75))]
    assert asks == [(218.6, pytest.approx(179803 / 218.6)), (218.65, pytest.approx(7887 / 218.65))]
    assert sync.on_frame(frames[1]) == Resync("ETH-PERPETUAL", ResyncReason.GAP, "resubscribe")


def test_the_real_capture_chains_without_a_gap() -> None:
    sync = BOOKS.new()
    results = [sync.on_frame(f) for f in capture_frames(shared_fixture(CAPTURE))]
    updates = [r for r in results if isinstance(r, BookUpdate)]
    assert sum(u.snapshot for u in updates) == 10 and len(updates) == 46
    assert all(u.applied for u in updates)
    assert sync.books.stats.as_dict() == {"applied": 46, "resyncs": {}, "dropped": {}}
    book = sync.books.get("BTC-24SEP21-8000-P")
    assert book is not None
    # its last change deleted the ask at 0.001 that the one before had added
    assert 0.001 not in dict(book.asks(50))
