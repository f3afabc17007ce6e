"""Property: applying random valid diffs one by one equals rebuilding the book with `load`.

Uncapped, the incremental book equals a book loaded from the final level map.

With a depth cap, equality with the uncapped map is NOT provable: a level dropped by the cap
stays gone after the better levels above it are deleted (test_book.py shows one), so the
capped book need not be the top `max_depth` of the full map. What is provable, and asserted:
1. each step equals a fresh capped book loaded from the previous capped levels with the diff
   applied, and the best `max_depth` of that map sorted here (the cap drops exactly the
   worst levels beyond `max_depth`, nothing else);
2. the capped book is a sub-map of the uncapped one (every level it holds has the size the
   full book has: sets and deletes reach both, drops only remove);
3. each side holds at most `max_depth` levels, and the full top `max_depth` when no level was
   ever dropped.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from microservices.common.orderbook.book import Level, OrderBook

# A small price grid so diffs hit existing levels (updates, deletes) as often as new ones;
# quarters are exact in binary floats.
PRICES = st.integers(min_value=1, max_value=60).map(lambda i: i / 4)
SIZES = st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.0, 3.25])
SIDE = st.lists(st.tuples(PRICES, SIZES), max_size=12)
DIFFS = st.lists(st.tuples(SIDE, SIDE), max_size=40)


def _apply_map(levels: dict[float, float], diff: list[Level]) -> None:
    for price, size in diff:
        if size:
            levels[price] = size
        else:
            levels.pop(price, None)


def _expected(levels: dict[float, float], descending: bool) -> list[Level]:
    return sorted(levels.items(), reverse=descending)


@settings(max_examples=300, deadline=None)
@given(snapshot=st.tuples(SIDE, SIDE), diffs=DIFFS)
def test_incremental_equals_rebuilt(
    snapshot: tuple[list[Level], list[Level]], diffs: list[tuple[list[Level], list[Level]]]
) -> None:
    book = OrderBook()
    book.load(*snapshot)
    bids = {p: s for p, s in snapshot[0] if s}
    asks = {p: s for p, s in snapshot[1] if s}
    for diff_bids, diff_asks in diffs:
        book.apply(diff_bids, diff_asks)
        _apply_map(bids, diff_bids)
        _apply_map(asks, diff_asks)
    rebuilt = OrderBook()
    rebuilt.load(bids.items(), asks.items())
    assert book.bids() == rebuilt.bids() == _expected(bids, descending=True)
    assert book.asks() == rebuilt.asks() == _expected(asks, descending=False)
    assert (book.bid_levels, book.ask_levels) == (len(bids), len(asks))


@settings(max_examples=300, deadline=None)
@given(
    max_depth=st.integers(min_value=1, max_value=6),
    snapshot=st.tuples(SIDE, SIDE),
    diffs=DIFFS,
)
def test_capped_incremental_equals_capped_rebuild_and_is_a_submap(
    max_depth: int,
    snapshot: tuple[list[Level], list[Level]],
    diffs: list[tuple[list[Level], list[Level]]],
) -> None:
    capped = OrderBook(max_depth)
    capped.load(*snapshot)
    full = OrderBook()
    full.load(*snapshot)
    dropped = full.bid_levels > max_depth or full.ask_levels > max_depth
    for diff_bids, diff_asks in diffs:
        bids, asks = dict(capped.bids()), dict(capped.asks())
        _apply_map(bids, diff_bids)
        _apply_map(asks, diff_asks)
        capped.apply(diff_bids, diff_asks)
        full.apply(diff_bids, diff_asks)
        rebuilt = OrderBook(max_depth)
        rebuilt.load(bids.items(), asks.items())
        assert capped.bids() == rebuilt.bids() == _expected(bids, True)[:max_depth]
        assert capped.asks() == rebuilt.asks() == _expected(asks, False)[:max_depth]
        dropped = dropped or len(bids) > max_depth or len(asks) > max_depth
    assert capped.bid_levels <= max_depth
    assert capped.ask_levels <= max_depth
    full_bids, full_asks = dict(full.bids()), dict(full.asks())
    assert all(full_bids.get(p) == s for p, s in capped.bids())
    assert all(full_asks.get(p) == s for p, s in capped.asks())
    if not dropped:
        assert capped.bids() == full.bids(max_depth)
        assert capped.asks() == full.asks(max_depth)
