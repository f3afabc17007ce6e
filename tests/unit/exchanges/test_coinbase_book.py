"""Coinbase `level2_batch` book sync: snapshot then l2update changes, updates before any
snapshot, crossed books and bad levels (resubscribe), reconnects; and the real 2021 level2
capture (same message shapes as level2_batch). No sequence numbers: gaps are undetectable."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from microservices.common.orderbook.book import OrderBook
from microservices.common.orderbook.sync import BookUpdate, Resync, ResyncReason
from microservices.data_collector.exchanges.coinbase.book import BOOKS, CoinbaseBookSync
from tests.fixture_paths import capture_frames, shared_fixture

CAPTURE = "coinbase/ws/ws_feed_level2_ticker_matches.cryptofeed-2021.jsonl"
TIME = "2023-11-14T22:13:20.123456Z"
TIME_MS = 1_700_000_000_123


def snapshot(product: str = "BTC-USD") -> bytes:
    return orjson.dumps({"type": "snapshot", "product_id": product,
                         "bids": [["100.00", "1.5"], ["99.50", "2"]],
                         "asks": [["100.50", "0.25"], ["101.00", "4"]]})  # fmt: skip


def update(*changes: list[str], product: str = "BTC-USD", time: Any = TIME) -> bytes:
    return orjson.dumps({"type": "l2update", "product_id": product, "changes": list(changes),
                         "time": time})  # fmt: skip


def top(sync: CoinbaseBookSync, product: str = "BTC-USD") -> tuple[list[Any], list[Any]]:
    book = sync.books.get(product)
    assert isinstance(book, OrderBook), f"{product} has no synced book"
    return book.bids(), book.asks()


def test_snapshot_then_changes() -> None:
    sync = CoinbaseBookSync()
    assert sync.on_frame(snapshot()) == BookUpdate("BTC-USD", None, None, True, snapshot=True)
    changed = sync.on_frame(update(["buy", "100.00", "0"], ["sell", "100.40", "3"],
                                   ["buy", "99.75", "1.25"]))  # fmt: skip
    assert changed == BookUpdate("BTC-USD", None, TIME_MS, applied=True)
    assert top(sync) == ([(99.75, 1.25), (99.5, 2.0)], [(100.4, 3.0), (100.5, 0.25), (101.0, 4.0)])
    # a time that is absent or out of range leaves ts_ms None (seen in recorded frames)
    odd = sync.on_frame(update(["sell", "101.00", "0"], time="0001-01-01T00:00:00.000000Z"))
    assert odd == BookUpdate("BTC-USD", None, None, applied=True)
    assert top(sync)[1] == [(100.4, 3.0), (100.5, 0.25)]


def test_update_before_snapshot_is_dropped() -> None:
    sync = CoinbaseBookSync()
    assert sync.on_frame(update(["buy", "1", "1"])) == BookUpdate("BTC-USD", None, None, False)
    assert sync.books.get("BTC-USD") is None and sync.books.stats.dropped == {"before_snapshot": 1}


def test_crossed_book_resubscribes() -> None:
    sync = CoinbaseBookSync()
    sync.on_frame(snapshot())
    crossed = sync.on_frame(update(["buy", "100.60", "1"]))  # above the 100.50 ask: a lost update
    assert crossed == Resync("BTC-USD", ResyncReason.CROSSED, "resubscribe")
    assert sync.books.get("BTC-USD") is None
    assert sync.on_frame(update(["buy", "99", "1"])) == BookUpdate("BTC-USD", None, None, False)
    assert sync.on_frame(snapshot()) == BookUpdate("BTC-USD", None, None, True, snapshot=True)
    assert sync.books.stats.as_dict() == {
        "applied": 2, "resyncs": {"crossed": 1}, "dropped": {"before_snapshot": 1}
    }  # fmt: skip


@pytest.mark.parametrize(
    "bad", [["buy", "99.9", "NaN"], ["sell", "101", "-2"], ["buy", "abc", "1"], ["hold", "1", "1"]]
)
def test_bad_change_rejects_the_whole_message(bad: list[str]) -> None:
    sync = CoinbaseBookSync()
    sync.on_frame(snapshot())
    result = sync.on_frame(update(["buy", "99.8", "7"], bad))
    assert result == Resync("BTC-USD", ResyncReason.BAD_LEVEL, "resubscribe")
    assert sync.books.get("BTC-USD") is None
    sync.on_frame(snapshot())
    assert (99.8, 7.0) not in top(sync)[0]  # the valid first change was never applied


def test_other_messages_and_reconnect() -> None:
    sync = BOOKS["coinbase"].new(None)
    assert isinstance(sync, CoinbaseBookSync)
    heartbeat = b'{"type":"heartbeat","sequence":90,"last_trade_id":20,"product_id":"BTC-USD"}'
    assert sync.on_frame(heartbeat) is None and sync.on_frame(b'{"type":"subscriptions"}') is None
    sync.on_frame(snapshot())
    sync.on_frame(snapshot("ETH-USD"))
    assert sync.on_rest("https://api.exchange.coinbase.com/products/BTC-USD/book", b"{}") == []
    assert [r.symbol for r in sync.reconnect()] == ["BTC-USD", "ETH-USD"]
    assert list(sync.books.symbols()) == []


def test_real_level2_capture() -> None:
    """NU-GBP: snapshot best 0.4385 x 548.398226 / 0.4394 x 2000 with 118 bids and 452 asks;
    its first l2update deletes the 0.4312 bid (117 bids); after its 52 updates the book is
    0.4389 x 242.89 / 0.4393 x 8208.213533, 117 x 450 levels (worked from the frames)."""
    sync = CoinbaseBookSync()
    results = [sync.on_frame(text) for text in capture_frames(shared_fixture(CAPTURE))]
    nu = [r for r in results if isinstance(r, BookUpdate) and r.symbol == "NU-GBP"]
    assert len(nu) == 53 and nu[0].snapshot and all(r.applied for r in nu)
    assert nu[1].ts_ms == 1618677817080  # 2021-04-17T16:43:37.080304Z
    assert not any(isinstance(r, Resync) for r in results)
    book = sync.books.get("NU-GBP")
    assert book is not None
    assert (book.best_bid(), book.best_ask()) == ((0.4389, 242.89), (0.4393, 8208.213533))
    assert (book.bid_levels, book.ask_levels) == (117, 450)
    assert sync.books.stats.applied == 2935  # 10 snapshots + 2925 l2updates


def test_drop_waits_for_the_next_snapshot() -> None:
    sync = CoinbaseBookSync()
    sync.on_frame(snapshot())
    sync.drop("BTC-USD")
    assert sync.on_frame(update(["buy", "99", "1"])) == BookUpdate("BTC-USD", None, None, False)


def test_the_whole_book_snapshot_is_capped_at_1000_levels_a_side() -> None:
    sync = BOOKS["coinbase"].new(None)
    bids = [[f"{100 - k * 0.01:.2f}", "1"] for k in range(1_500)]
    asks = [[f"{101 + k * 0.01:.2f}", "1"] for k in range(1_200)]
    sync.on_frame(orjson.dumps({"type": "snapshot", "product_id": "BTC-USD", "bids": bids,
                                "asks": asks}))  # fmt: skip
    book = sync.books.get("BTC-USD")
    assert book is not None and (book.bid_levels, book.ask_levels) == (1_000, 1_000)
    assert book.bids(1) == [(100.0, 1.0)] and book.asks(0)[-1] == (110.99, 1.0)
