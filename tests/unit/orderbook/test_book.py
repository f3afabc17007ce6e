"""OrderBook: snapshot, diffs, reads, crossed, depth cap; hand-worked books."""

from __future__ import annotations

import pytest

from microservices.common.orderbook.book import OrderBook


def _book(max_depth: int = 0) -> OrderBook:
    book = OrderBook(max_depth)
    book.load(
        bids=[(100.0, 1.0), (99.0, 2.0), (98.0, 0.0), (101.0, 3.0)],
        asks=[(102.0, 1.0), (103.0, 0.0), (104.0, 2.0)],
    )
    return book


def test_load_sorts_best_first_and_ignores_size_zero() -> None:
    book = _book()
    assert book.bids() == [(101.0, 3.0), (100.0, 1.0), (99.0, 2.0)]
    assert book.asks() == [(102.0, 1.0), (104.0, 2.0)]
    assert (book.bid_levels, book.ask_levels) == (3, 2)
    assert book.best_bid() == (101.0, 3.0)
    assert book.best_ask() == (102.0, 1.0)
    assert book.mid() == 101.5  # (101 + 102) / 2
    assert not book.crossed()


def test_load_replaces_everything() -> None:
    book = _book()
    book.load([(50.0, 1.0)], [])
    assert book.bids() == [(50.0, 1.0)]
    assert book.asks() == []
    assert book.mid() is None


def test_apply_sets_updates_and_deletes() -> None:
    book = _book()
    book.apply(
        bids=[(101.0, 0.0), (100.5, 4.0), (97.0, 0.0)],  # delete, insert, delete absent
        asks=[(102.0, 5.0), (104.0, 0.0), (103.0, 1.0)],  # update, delete, insert
    )
    assert book.bids() == [(100.5, 4.0), (100.0, 1.0), (99.0, 2.0)]
    assert book.asks() == [(102.0, 5.0), (103.0, 1.0)]
    assert book.mid() == 101.25  # (100.5 + 102) / 2


def test_apply_same_price_twice_in_one_diff_keeps_the_last() -> None:
    book = _book()
    book.apply([(99.5, 1.0), (99.5, 0.0), (99.0, 7.0), (99.0, 8.0)], [])
    assert book.bids() == [(101.0, 3.0), (100.0, 1.0), (99.0, 8.0)]


def test_top_n_reads() -> None:
    book = _book()
    assert book.bids(2) == [(101.0, 3.0), (100.0, 1.0)]
    assert book.asks(1) == [(102.0, 1.0)]
    assert book.bids(10) == book.bids() == book.bids(-1)
    assert list(book.iter_bids()) == book.bids()
    assert list(book.iter_asks()) == book.asks()


def test_empty_book() -> None:
    book = OrderBook()
    assert book.best_bid() is None
    assert book.best_ask() is None
    assert book.mid() is None
    assert not book.crossed()
    assert book.bids() == book.asks() == []


def test_one_sided_book_has_no_mid_and_is_not_crossed() -> None:
    book = OrderBook()
    book.apply([(10.0, 1.0)], [])
    assert book.mid() is None
    assert not book.crossed()


def test_crossed_when_best_bid_reaches_best_ask() -> None:
    book = _book()
    book.apply([(102.0, 1.0)], [])  # bid equal to the best ask: locked counts as crossed
    assert book.crossed()
    book.apply([(102.0, 0.0), (103.0, 1.0)], [])
    assert book.crossed()
    book.apply([(103.0, 0.0)], [])
    assert not book.crossed()


def test_clear() -> None:
    book = _book()
    book.clear()
    assert (book.bid_levels, book.ask_levels) == (0, 0)
    book.apply([(1.0, 1.0)], [(2.0, 1.0)])
    assert book.mid() == 1.5


def test_depth_cap_on_load_keeps_the_best() -> None:
    book = _book(max_depth=2)
    assert book.bids() == [(101.0, 3.0), (100.0, 1.0)]
    assert book.asks() == [(102.0, 1.0), (104.0, 2.0)]


def test_depth_cap_drops_the_worst_after_apply() -> None:
    book = _book(max_depth=2)
    book.apply([(100.5, 1.0)], [(101.5, 1.0), (110.0, 1.0)])
    assert book.bids() == [(101.0, 3.0), (100.5, 1.0)]  # 100 dropped
    assert book.asks() == [(101.5, 1.0), (102.0, 1.0)]  # 104 dropped, 110 never kept


def test_depth_cap_does_not_bring_dropped_levels_back() -> None:
    """A level dropped by the cap is gone: deleting a better one leaves the side shorter.

    This is why a capped book is not a prefix of the uncapped one (see the property test).
    """
    book = _book(max_depth=2)  # bids 101, 100 kept; 99 dropped at load
    book.apply([(101.0, 0.0)], [])
    assert book.bids() == [(100.0, 1.0)]
    book.apply([(98.5, 2.0)], [])  # now fits under the cap
    assert book.bids() == [(100.0, 1.0), (98.5, 2.0)]


def test_depth_cap_bounded_over_many_inserts() -> None:
    book = OrderBook(max_depth=5)
    for i in range(1, 101):
        book.apply([(float(i), 1.0)], [(1000.0 - i, 1.0)])
        assert book.bid_levels <= 5
        assert book.ask_levels <= 5
    assert [p for p, _ in book.bids()] == [100.0, 99.0, 98.0, 97.0, 96.0]
    assert [p for p, _ in book.asks()] == [900.0, 901.0, 902.0, 903.0, 904.0]


def test_negative_depth_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="max_depth"):
        OrderBook(max_depth=-1)
