"""Properties of execution cost on random books: totals add up, greedy across venues is best.

Walking the merged ladder cheapest first buys the most base for a given notional, so a fully
filled consolidated buy never pays a higher average price than any single venue that could
fill the whole order alone (and a sell never receives less).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microservices.common.orderbook.book import Level, OrderBook
from microservices.common.orderbook.cost import TradeSide, consolidated_cost, venue_cost

PRICES = st.integers(min_value=90, max_value=110).map(float)
SIZES = st.integers(min_value=1, max_value=8).map(lambda i: i / 2)
LEVELS = st.lists(st.tuples(PRICES, SIZES), max_size=8)


def _book(bids: list[Level], asks: list[Level]) -> OrderBook:
    book = OrderBook()
    # keep each venue's own book uncrossed: bids below 100, asks from 100 up
    book.load([(p - 20.0, s) for p, s in bids], [(p + 20.0, s) for p, s in asks])
    return book


VENUES = st.dictionaries(
    st.sampled_from(["binance", "bybit", "coinbase"]),
    st.tuples(LEVELS, LEVELS).map(lambda sides: _book(*sides)),
    min_size=1,
)


@settings(max_examples=200, deadline=None)
@given(
    books=VENUES,
    side=st.sampled_from(["buy", "sell"]),
    notional=st.floats(min_value=1.0, max_value=5_000.0),
)
def test_totals_add_up(books: dict[str, OrderBook], side: TradeSide, notional: float) -> None:
    cost = consolidated_cost(books, side, notional)
    assert cost.notional_filled + cost.remainder == pytest.approx(notional, rel=1e-9)
    assert cost.notional_filled == pytest.approx(
        math.fsum(f.notional_usd for f in cost.split.values()), rel=1e-12
    )
    assert cost.levels_used == sum(f.levels_used for f in cost.split.values())
    available = sum(
        p * s for b in books.values() for p, s in (b.asks() if side == "buy" else b.bids())
    )
    assert cost.notional_filled <= available * (1 + 1e-12)
    if cost.remainder > 0:
        assert cost.notional_filled == pytest.approx(available, rel=1e-9)


@settings(max_examples=200, deadline=None)
@given(
    books=VENUES,
    side=st.sampled_from(["buy", "sell"]),
    notional=st.floats(min_value=1.0, max_value=2_000.0),
)
def test_consolidated_is_no_worse_than_any_single_venue(
    books: dict[str, OrderBook], side: TradeSide, notional: float
) -> None:
    merged = consolidated_cost(books, side, notional)
    for venue, book in books.items():
        alone = venue_cost(book, side, notional, venue=venue)
        if alone.remainder > 0 or alone.avg_price is None or merged.avg_price is None:
            continue
        assert merged.remainder == 0.0
        if side == "buy":
            assert merged.avg_price <= alone.avg_price * (1 + 1e-12)
        else:
            assert merged.avg_price >= alone.avg_price * (1 - 1e-12)
