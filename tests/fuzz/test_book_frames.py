"""Fuzz: no book frame, however malformed or out of order, crashes a venue's book rules or
makes a wrong book readable (crossed, a non-positive or non-finite price or size)."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microservices.data_collector.book_feed import BookFeed, BookParams
from microservices.data_collector.exchanges import venue_specs
from microservices.data_collector.exchanges.binance.spot import Binance
from microservices.data_collector.exchanges.bybit.exchange import Bybit
from microservices.data_collector.exchanges.coinbase.exchange import Coinbase

pytestmark = pytest.mark.slow

NUMBERS = st.one_of(
    st.sampled_from(["100.0", "100.5", "99.5", "0", "-1", "NaN", "inf", "1e400", "", "x"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-5, 2**63 - 1),
    st.none(),
    st.booleans(),
)
LEVELS = st.lists(st.lists(NUMBERS, min_size=0, max_size=3), max_size=6)
IDS = st.integers(-2, 30)


def binance(first: Any, last: Any, bids: Any, asks: Any) -> bytes:
    data = {"e": "depthUpdate", "E": 1_700_000_000_000, "s": "BTCUSDT", "U": first, "u": last,
            "b": bids, "a": asks}  # fmt: skip
    return orjson.dumps({"stream": "btcusdt@depth@100ms", "data": data})


def bybit(kind: Any, u: Any, bids: Any, asks: Any) -> bytes:
    data = {"s": "BTCUSDT", "b": bids, "a": asks, "u": u, "seq": u}
    return orjson.dumps({"topic": "orderbook.50.BTCUSDT", "type": kind, "ts": 1, "data": data})


def coinbase(kind: Any, u: Any, bids: Any, asks: Any) -> bytes:
    if kind == "snapshot":
        return orjson.dumps({"type": "snapshot", "product_id": "BTC-USD", "bids": bids,
                             "asks": asks})  # fmt: skip
    changes = [["buy", *b] for b in bids] + [["sell", *a] for a in asks] + [[u]]
    return orjson.dumps({"type": "l2update", "product_id": "BTC-USD", "changes": changes,
                         "time": "2023-11-14T22:13:20.000Z"})  # fmt: skip


FRAMES = st.tuples(st.sampled_from(["snapshot", "delta", "x"]), IDS, IDS, LEVELS, LEVELS)


def feeds() -> list[tuple[BookFeed, Any]]:
    out = []
    for venue, cls, build in (("binance", Binance, None), ("bybit", Bybit, bybit),
                              ("coinbase", Coinbase, coinbase)):  # fmt: skip
        spec = venue_specs()[venue].books
        assert spec is not None
        out.append((BookFeed(cls(["BTCUSDT"], ws_url="", rest_url=""), spec, BookParams()), build))
    return out


def assert_readable_books_are_sane(feed: BookFeed) -> None:
    for symbol in feed.sync.books.symbols():
        book = feed.sync.books.get(symbol)
        assert book is not None and not book.crossed()
        for price, size in book.bids() + book.asks():
            assert math.isfinite(price) and price > 0 and math.isfinite(size) and size > 0


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(frames=st.lists(FRAMES, max_size=25), snapshot=st.tuples(IDS, LEVELS, LEVELS),
       garbage=st.binary(max_size=64))  # fmt: skip
def test_book_rules_never_crash_nor_publish_a_wrong_book(
    frames: list[Any], snapshot: Any, garbage: bytes
) -> None:
    for feed, build in feeds():
        for at, (kind, first, last, bids, asks) in enumerate(frames):
            frame = binance(first, last, bids, asks) if build is None else build(
                kind, last, bids, asks)  # fmt: skip
            for candidate in (frame, garbage, frame[: len(frame) // 2]):
                if feed.is_book(candidate):
                    feed.on_frame(candidate, 1_000 + at)
            if build is None and at == len(frames) // 2:
                body = {"lastUpdateId": snapshot[0], "bids": snapshot[1], "asks": snapshot[2]}
                feed.on_snapshot("BTCUSDT", orjson.dumps(body), 1_000 + at)
            assert_readable_books_are_sane(feed)
            feed.entries(10_000 + at * 1_000)
        feed.full_books()
