"""The simulator's L2 ladder (pure): its top is the quote, its diffs rebuild it, ids chain.

The reconstruction here is a plain dict per side fed with the DepthDiff events, independent
of any production book code.
"""

from __future__ import annotations

from microservices.exchange_simulator.config import FaultConfig, MarketConfig
from microservices.exchange_simulator.depth import IDLE_MS, LEVELS, snapshot_id
from microservices.exchange_simulator.events import DepthDiff
from microservices.exchange_simulator.faults import ConnectionFaults
from microservices.exchange_simulator.market import MarketModel

START = 1_700_000_000_000
PAIR = ("binance", "BTCUSDT")


def run(model: MarketModel, steps: int, step_ms: int = 50) -> list[DepthDiff]:
    diffs: list[DepthDiff] = []
    for _ in range(steps):
        events = model.step(model.now_ms + step_ms, {PAIR})
        diffs += [e for e in events if isinstance(e, DepthDiff)]
    return diffs


def test_ladder_top_is_always_the_quote_and_diffs_rebuild_it() -> None:
    model = MarketModel(MarketConfig(seed=5), START)
    ladder = model.depth(*PAIR)
    tick = ladder.tick
    bids = {t * tick: q for t, q in ladder.bids.items()}
    asks = {t * tick: q for t, q in ladder.asks.items()}
    prev_u = ladder.last_id
    for _ in range(400):
        for diff in run(model, 1):
            assert (diff.first_id, diff.prev_id) == (prev_u + 1, prev_u)
            prev_u = diff.last_id
            for side, rows in ((bids, diff.bids), (asks, diff.asks)):
                for price, size in rows:
                    if size:
                        side[price] = size
                    else:
                        side.pop(price, None)
        book = model.book(*PAIR)
        assert (max(bids), bids[max(bids)]) == (book.bid, book.bid_qty)
        assert (min(asks), asks[min(asks)]) == (book.ask, book.ask_qty)
        assert max(bids) < min(asks)
    assert prev_u == book.update_id == ladder.last_id
    assert bids == {t * tick: q for t, q in ladder.bids.items()}
    assert asks == {t * tick: q for t, q in ladder.asks.items()}
    assert abs(len(bids) - LEVELS) <= 40 and abs(len(asks) - LEVELS) <= 40


def test_ladder_is_deterministic_and_leaves_the_market_unchanged() -> None:
    plain = MarketModel(MarketConfig(seed=9), START)
    a, b = MarketModel(MarketConfig(seed=9), START), MarketModel(MarketConfig(seed=9), START)
    a.depth(*PAIR)
    b.depth(*PAIR)
    assert run(a, 100) == run(b, 100)
    run(plain, 100)
    # the ladder has its own random stream: prices and quotes are those of a market without it
    assert plain.book(*PAIR).mid == a.book(*PAIR).mid
    assert plain.book(*PAIR).bid_qty == a.book(*PAIR).bid_qty


def test_inactive_pairs_publish_no_diff_but_keep_their_ids() -> None:
    model = MarketModel(MarketConfig(seed=2), START)
    ladder = model.depth("bybit", "ETHUSDT")
    before = ladder.last_id
    assert run(model, 20) == []  # only BTCUSDT on binance is active
    assert ladder.last_id > before and ladder.last_id == model.book("bybit", "ETHUSDT").update_id


def test_snapshot_id_falls_inside_the_next_diff() -> None:
    model = MarketModel(MarketConfig(seed=3), START)
    ladder = model.depth(*PAIR)
    run(model, 5)
    book = model.book(*PAIR)
    last_u = ladder.last_id
    snap = snapshot_id(ladder, book)
    assert snap == last_u + 1 and snapshot_id(ladder, book) == snap  # one bump, not two
    nxt = run(model, 1)[0]
    assert nxt.first_id <= snap + 1 <= nxt.last_id  # Binance spot rule
    assert nxt.first_id <= snap <= nxt.last_id  # Binance USD-M rule


def test_idle_ladders_are_dropped() -> None:
    model = MarketModel(MarketConfig(seed=4), START)
    model.depth(*PAIR)
    model.step(START + IDLE_MS, {PAIR})
    assert PAIR in model.ladders
    model.step(START + IDLE_MS + 1_000, {PAIR})
    assert PAIR not in model.ladders


def test_gap_fault_skips_every_nth_book_diff() -> None:
    conn = ConnectionFaults(1)
    cfg = FaultConfig(depth_gap_every=3)
    assert [conn.skip_book_diff(cfg) for _ in range(7)] == [
        False,
        False,
        True,
        False,
        False,
        True,
        False,
    ]
    assert not any(ConnectionFaults(1).skip_book_diff(FaultConfig()) for _ in range(5))
