"""Merging venues' books into one USD ladder, venue kept per level."""

from __future__ import annotations

import pytest

from microservices.common.orderbook.book import OrderBook
from microservices.common.orderbook.consolidated import ConsolidatedLevel, consolidate


def _book(bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> OrderBook:
    book = OrderBook()
    book.load(bids, asks)
    return book


def _books() -> dict[str, OrderBook]:
    return {
        "bybit": _book([(100.0, 3.0), (99.5, 1.0)], [(100.5, 2.0), (102.0, 1.0)]),
        "binance": _book([(100.0, 1.0), (99.0, 2.0)], [(101.0, 1.0), (103.0, 2.0)]),
        # quoted in a stablecoin worth 0.999 USD: 100.1 -> 99.9999, 101.1 -> 100.9989
        "coinbase": _book([(100.1, 2.0)], [(101.1, 1.0)]),
    }


def test_merged_ladder_in_usd_with_venues() -> None:
    merged = consolidate(_books(), usd_rate={"coinbase": 0.999})
    assert [(lv.price, lv.size, lv.venue) for lv in merged.bids] == [
        (100.0, 1.0, "binance"),  # tie at 100: venues in name order
        (100.0, 3.0, "bybit"),
        (pytest.approx(99.9999, rel=1e-12), 2.0, "coinbase"),
        (99.5, 1.0, "bybit"),
        (99.0, 2.0, "binance"),
    ]
    assert [(lv.price, lv.size, lv.venue) for lv in merged.asks] == [
        (100.5, 2.0, "bybit"),
        (pytest.approx(100.9989, rel=1e-12), 1.0, "coinbase"),
        (101.0, 1.0, "binance"),
        (102.0, 1.0, "bybit"),
        (103.0, 2.0, "binance"),
    ]
    assert merged.best_bid() == ConsolidatedLevel(100.0, 1.0, "binance")
    assert merged.best_ask() == ConsolidatedLevel(100.5, 2.0, "bybit")
    assert merged.mid() == 100.25  # NBBO mid: (100 + 100.5) / 2
    assert not merged.crossed()


def test_rate_defaults_to_one() -> None:
    merged = consolidate(_books())
    assert merged.bids[0] == ConsolidatedLevel(100.1, 2.0, "coinbase")


def test_depth_limits_merged_levels() -> None:
    merged = consolidate(_books(), depth=2)
    assert [lv.venue for lv in merged.bids] == ["coinbase", "binance"]
    assert [lv.price for lv in merged.asks] == [100.5, 101.0]


def test_crossed_across_venues() -> None:
    books = _books()
    books["bybit"].apply([], [(99.9, 1.0)])  # bybit ask below binance's bid at 100
    merged = consolidate(books, usd_rate={"coinbase": 0.999})
    assert merged.crossed()
    assert merged.mid() == pytest.approx(99.95, rel=1e-12)  # (100 + 99.9) / 2


def test_empty() -> None:
    merged = consolidate({"binance": OrderBook()})
    assert merged.bids == merged.asks == []
    assert merged.mid() is None
    assert merged.best_bid() is None
    assert not merged.crossed()
