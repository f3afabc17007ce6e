"""KuCoin level2Depth50 books (book.py): every push replaces the book; older pushes are
dropped; malformed levels and crossed books resync by resubscribing; futures sizes become
base units once the exchange is bound. Hand-written frames in the documented shape."""

from __future__ import annotations

from typing import Any

import orjson

from microservices.common.catalog import Catalog
from microservices.common.orderbook.book import Level, OrderBook
from microservices.common.orderbook.sync import BookUpdate, Resync, ResyncReason
from microservices.data_collector import exchanges
from microservices.data_collector.exchanges.kucoin.book import BOOKS, KucoinBookSync
from microservices.data_collector.exchanges.kucoin.exchange import Kucoin
from microservices.data_collector.exchanges.kucoin.futures import KucoinFutures
from microservices.data_collector.exchanges.kucoin.listing import parse_contracts
from tests.fixture_paths import local_fixture

SPOT = "/spotMarket/level2Depth50:BTC-USDT"
FUTURES = "/contractMarket/level2Depth50:XBTUSDTM"


def top(book: OrderBook, n: int) -> tuple[list[Level], list[Level]]:
    return book.bids(n), book.asks(n)


def depth(topic: str, bids: list[list[Any]], asks: list[list[Any]], ts: int) -> str:
    data = {"asks": asks, "bids": bids, "timestamp": ts}
    return orjson.dumps({"type": "message", "topic": topic, "subject": "level2",
                         "data": data}).decode()  # fmt: skip


def test_every_push_replaces_the_book() -> None:
    sync = KucoinBookSync()
    first = sync.on_frame(depth(SPOT, [["100", "1"], ["99", "2"]], [["101", "3"]], 1000))
    assert first == BookUpdate("BTC-USDT", None, 1000, applied=True, snapshot=True)
    book = sync.books.get("BTC-USDT")
    assert book is not None and top(book, 5) == ([(100.0, 1.0), (99.0, 2.0)], [(101.0, 3.0)])
    second = sync.on_frame(depth(SPOT, [["100.5", "4"]], [["102", "1"], ["103", "2"]], 1100))
    assert isinstance(second, BookUpdate) and second.applied and second.ts_ms == 1100
    book = sync.books.get("BTC-USDT")
    assert book is not None and top(book, 5) == ([(100.5, 4.0)], [(102.0, 1.0), (103.0, 2.0)])
    assert sync.books.stats.applied == 2
    assert dict(sync.books.stats.resyncs) == {}  # a whole push is no venue reset


def test_an_older_push_is_dropped() -> None:
    sync = KucoinBookSync()
    sync.on_frame(depth(SPOT, [["100", "1"]], [["101", "1"]], 2000))
    late = sync.on_frame(depth(SPOT, [["90", "1"]], [["91", "1"]], 1999))
    assert isinstance(late, BookUpdate) and not late.applied
    assert dict(sync.books.stats.dropped) == {"out_of_order": 1}
    book = sync.books.get("BTC-USDT")
    assert book is not None and top(book, 1) == ([(100.0, 1.0)], [(101.0, 1.0)])
    same_ms = sync.on_frame(depth(SPOT, [["100", "2"]], [["101", "1"]], 2000))
    assert isinstance(same_ms, BookUpdate) and same_ms.applied  # one ms, two pushes


def test_a_malformed_level_resyncs_and_the_next_push_rebuilds() -> None:
    sync = KucoinBookSync()
    sync.on_frame(depth(SPOT, [["100", "1"]], [["101", "1"]], 1000))
    bad = sync.on_frame(depth(SPOT, [["100", "NaN"]], [["101", "1"]], 1100))
    assert bad == Resync("BTC-USDT", ResyncReason.BAD_LEVEL, "resubscribe")
    assert sync.books.get("BTC-USDT") is None
    again = sync.on_frame(depth(SPOT, [["100", "1"]], [["101", "1"]], 1050))
    assert isinstance(again, BookUpdate) and again.applied  # no timestamp kept after a resync


def test_a_crossed_push_is_never_published() -> None:
    sync = KucoinBookSync()
    crossed = sync.on_frame(depth(SPOT, [["102", "1"]], [["101", "1"]], 1000))
    assert crossed == Resync("BTC-USDT", ResyncReason.CROSSED, "resubscribe")
    assert sync.books.get("BTC-USDT") is None


def test_other_frames_reconnect_and_drop() -> None:
    sync = KucoinBookSync()
    ticker = orjson.dumps({"type": "message", "topic": "/market/ticker:BTC-USDT",
                           "subject": "trade.ticker", "data": {}}).decode()  # fmt: skip
    assert sync.on_frame(ticker) is None
    assert sync.on_frame("garbage") is None
    sync.on_frame(depth(SPOT, [["100", "1"]], [["101", "1"]], 1000))
    assert sync.reconnect() == [Resync("BTC-USDT", ResyncReason.RECONNECT, "resubscribe")]
    sync.on_frame(depth(SPOT, [["100", "1"]], [["101", "1"]], 900))
    sync.drop("BTC-USDT")
    assert sync.books.get("BTC-USDT") is None
    assert sync.on_rest("https://x/anything", b"{}") == []


def test_depth_cap_and_router() -> None:
    spec = exchanges.venue_specs()["kucoin"].books
    assert spec is BOOKS["kucoin"] and spec.default_depth == 50
    is_book = spec.router()
    assert is_book(depth(SPOT, [], [], 1)) and is_book(depth(FUTURES, [], [], 1).encode())
    assert not is_book('{"topic":"/market/ticker:BTC-USDT"}')
    sync = spec.new(max_depth=2)
    levels = [[str(100 - i), "1"] for i in range(5)]
    sync.on_frame(depth(SPOT, levels, [["101", "1"]], 1))
    book = sync.books.get("BTC-USDT")
    assert book is not None and [p for p, _ in book.bids(10)] == [100.0, 99.0]


def test_futures_sizes_in_base_units_once_bound() -> None:
    listing = parse_contracts(
        local_fixture("exchanges/kucoin/rest_contracts_active.json").read_bytes()
    )
    catalog = Catalog(listing.instruments, listed=["kucoin_futures"])
    frame = depth(FUTURES, [["65000", 1500]], [["65000.1", 3]], 1)
    unbound = KucoinBookSync()
    unbound.on_frame(frame)
    book = unbound.books.get("XBTUSDTM")
    assert book is not None and top(book, 1) == ([(65000.0, 1500.0)], [(65000.1, 3.0)])
    bound = KucoinBookSync()
    bound.bind_exchange(KucoinFutures(["BTCUSDT"], "wss://x", "https://x", catalog))
    bound.on_frame(frame)
    book = bound.books.get("XBTUSDTM")
    assert book is not None and top(book, 1) == ([(65000.0, 1.5)], [(65000.1, 0.003)])
    spot = KucoinBookSync()
    spot.bind_exchange(Kucoin(["BTCUSDT"], "wss://x", "https://x"))
    spot.on_frame(depth(SPOT, [["100", "1.5"]], [["101", "2"]], 1))
    book = spot.books.get("BTC-USDT")
    assert book is not None and top(book, 1) == ([(100.0, 1.5)], [(101.0, 2.0)])


def test_resubscription_frames() -> None:
    spot = Kucoin(["BTCUSDT"], "wss://x", "https://x")
    unsub, sub = (orjson.loads(f) for f in spot.book_resubscribe("BTC-USDT"))
    assert (unsub["type"], sub["type"]) == ("unsubscribe", "subscribe")
    assert unsub["topic"] == sub["topic"] == SPOT
    assert sub["privateChannel"] is False and sub["response"] is True
