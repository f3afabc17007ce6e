"""Depth within bps, imbalance and microprice on hand-worked books."""

from __future__ import annotations

import pytest

from microservices.common.orderbook.book import OrderBook
from microservices.common.orderbook.depth import (
    book_depth_within_bps,
    depth_within_bps,
    imbalance,
    microprice,
)

# mid = (99.95 + 100.05) / 2 = 100; 10 bps of 100 = 0.1, 50 bps = 0.5
BIDS = [(99.95, 1.0), (99.9, 2.0), (99.8, 4.0), (99.0, 5.0)]
ASKS = [(100.05, 1.0), (100.1, 3.0), (100.2, 2.0), (101.0, 1.0)]


def test_depth_within_10bps_counts_the_edge_levels() -> None:
    # bids 99.95 and 99.9 (exactly 10 bps away, inclusive): 99.95*1 + 99.9*2 = 299.75
    assert depth_within_bps(BIDS, 100.0, 10.0) == pytest.approx(299.75, rel=1e-12)
    # asks 100.05 and 100.1 (the edge): 100.05*1 + 100.1*3 = 400.35
    assert depth_within_bps(ASKS, 100.0, 10.0) == pytest.approx(400.35, rel=1e-12)


def test_depth_within_50bps() -> None:
    # bids down to 99.5: 299.75 + 99.8*4 = 698.95; 99.0 is 100 bps away
    assert depth_within_bps(BIDS, 100.0, 50.0) == pytest.approx(698.95, rel=1e-12)
    # asks up to 100.5: 400.35 + 100.2*2 = 600.75; 101.0 is out
    assert depth_within_bps(ASKS, 100.0, 50.0) == pytest.approx(600.75, rel=1e-12)


def test_depth_edge_cases() -> None:
    assert depth_within_bps([], 100.0, 10.0) == 0.0
    assert depth_within_bps(BIDS, 100.0, 0.0) == 0.0
    assert depth_within_bps([(99.0, 1.0)], 100.0, 10.0) == 0.0  # best level beyond the band


def test_book_depth_uses_the_book_mid() -> None:
    book = OrderBook()
    book.load(BIDS, ASKS)
    depth = book_depth_within_bps(book, 10.0)
    assert depth is not None
    bid, ask = depth
    assert bid == pytest.approx(299.75, rel=1e-12)
    assert ask == pytest.approx(400.35, rel=1e-12)
    # imbalance of those: (299.75 - 400.35) / 700.1
    assert imbalance(bid, ask) == pytest.approx(-100.6 / 700.1, rel=1e-9)
    assert book_depth_within_bps(OrderBook(), 10.0) is None


def test_imbalance() -> None:
    assert imbalance(300.0, 100.0) == 0.5  # (300 - 100) / 400
    assert imbalance(100.0, 300.0) == -0.5
    assert imbalance(0.0, 5.0) == -1.0
    assert imbalance(5.0, 0.0) == 1.0
    assert imbalance(0.0, 0.0) == 0.0


def test_microprice_leans_to_the_thin_side() -> None:
    book = OrderBook()
    book.load([(100.0, 1.0)], [(102.0, 3.0)])
    # (100*3 + 102*1) / (1 + 3) = 402 / 4 = 100.5: near the bid, whose size is smaller
    assert microprice(book) == 100.5
    book.apply([(100.0, 3.0)], [])
    assert microprice(book) == 101.0  # equal sizes: the mid


def test_microprice_needs_both_sides() -> None:
    book = OrderBook()
    assert microprice(book) is None
    book.apply([(100.0, 1.0)], [])
    assert microprice(book) is None
