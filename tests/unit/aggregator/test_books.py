"""exchange.orderbook in the aggregator: a venue's top quote is the newer of book and ticker
(prices and sizes, so the NBBO has sizes), per-venue depth in USD and 10 bps imbalance while
the book is fresh, late entries ignored, depth null and counted without a USD price."""

from __future__ import annotations

import pytest

from microservices.ai_engine.cross_exchange_aggregator import AggregatorParams, CrossExchangeState
from microservices.common.derived_schemas import NORMALIZED
from tests.unit.aggregator.builders import SYMBOL, T0, book_top, ticker, trade

# mid 100.0; within 10 bps (+-0.1): bids 99.99 x 2 + 99.95 x 1 = 299.93, asks 100.01 x 1 +
# 100.04 x 3 = 400.13; within 50 bps (+-0.5) also 99.6 x 5 = 498.0 and 100.3 x 4 = 401.2
BIDS = [(99.99, 2.0), (99.95, 1.0), (99.6, 5.0), (99.0, 1.0)]
ASKS = [(100.01, 1.0), (100.04, 3.0), (100.3, 4.0), (101.0, 1.0)]


def state_with(*entries: object) -> CrossExchangeState:
    state = CrossExchangeState(AggregatorParams(min_exchanges=1))
    for entry in entries:
        if hasattr(entry, "bids"):
            state.update_book(entry)  # type: ignore[arg-type]
        else:
            state.update(entry)  # type: ignore[arg-type]
    return state


def test_a_newer_book_gives_the_venue_its_prices_sizes_and_depth() -> None:
    state = state_with(
        ticker("binance", 99.98, 100.02, 0),  # older than the book: replaced by it
        ticker("bybit", 100.00, 100.03, 0, bid_size=0.5, ask_size=0.7),
        book_top("binance", BIDS, ASKS, 100),
    )
    snap = state.snapshot(SYMBOL, T0 + 200)
    assert snap is not None
    binance, bybit = snap.venues["binance"], snap.venues["bybit"]
    assert (binance.bid, binance.ask, binance.bid_size, binance.ask_size) == (
        99.99, 100.01, 2.0, 1.0,
    )  # fmt: skip
    assert binance.price == pytest.approx(100.0) and binance.age_ms == 100
    assert binance.bid_depth_10bps == pytest.approx(299.93)
    assert binance.ask_depth_10bps == pytest.approx(400.13)
    assert binance.bid_depth_50bps == pytest.approx(797.93)
    assert binance.ask_depth_50bps == pytest.approx(801.33)
    assert binance.imbalance_10bps == pytest.approx(-100.2 / 700.06)
    assert bybit.bid_depth_10bps is None and bybit.imbalance_10bps is None  # no book
    # NBBO: bybit's bid 100.00 (0.5) over binance's 99.99; binance's ask 100.01 (1.0)
    assert (snap.best_bid, snap.best_bid_exchange, snap.best_bid_size) == (100.0, "bybit", 0.5)
    assert (snap.best_ask, snap.best_ask_exchange, snap.best_ask_size) == (100.01, "binance", 1.0)
    assert snap.arb_bps == 0.0


def test_a_newer_ticker_wins_over_the_book_but_the_depth_stays_while_the_book_is_fresh() -> None:
    state = state_with(book_top("binance", BIDS, ASKS, 0), ticker("binance", 99.97, 100.0, 50))
    snap = state.snapshot(SYMBOL, T0 + 100)
    assert snap is not None
    quote = snap.venues["binance"]
    assert (quote.bid, quote.ask, quote.bid_size) == (99.97, 100.0, 1.0)
    assert quote.bid_depth_10bps == pytest.approx(299.93)


def test_a_stale_book_counts_no_more() -> None:
    """stale_after_ms 10,000: at T0 + 10,101 the book received at T0 + 100 is stale; a trade
    keeps the venue included, without bid/ask or depth."""
    state = state_with(book_top("binance", BIDS, ASKS, 100), trade("binance", 100.2, 10_000))
    snap = state.snapshot(SYMBOL, T0 + 10_101)
    assert snap is not None
    quote = snap.venues["binance"]
    assert quote.price == 100.2 and quote.bid is None and quote.bid_size is None
    assert quote.bid_depth_10bps is None and quote.imbalance_10bps is None
    assert snap.best_bid is None and snap.best_bid_size is None


def test_late_and_repeated_book_entries_change_nothing() -> None:
    state = state_with(book_top("binance", BIDS, ASKS, 100))
    assert state.poll(T0 + 100) != []
    state.update_book(book_top("binance", [(99.0, 9.0)], [(101.0, 9.0)], 50))  # older ts
    state.update_book(book_top("binance", BIDS, ASKS, 100, recv=400))  # re-delivery
    assert state.poll(T0 + 1_200) != []  # the heartbeat, not a change
    snap = state.snapshot(SYMBOL, T0 + 1_200)
    assert snap is not None and snap.venues["binance"].bid == 99.99
    assert snap.venues["binance"].age_ms == 1_100  # the first receive time is kept


def test_depth_is_converted_by_the_quotes_usd_price() -> None:
    """USDT at 0.999 USD: depth x 0.999, prices too; the imbalance is unit free."""
    state = state_with(book_top("binance", BIDS, ASKS, 0))
    state.usd.rates.observe("USDTUSD", 0.999)
    snap = state.snapshot(SYMBOL, T0)
    assert snap is not None
    quote = snap.venues["binance"]
    assert quote.bid_depth_10bps == pytest.approx(299.93 * 0.999)
    assert quote.ask_depth_50bps == pytest.approx(801.33 * 0.999)
    assert quote.bid == pytest.approx(99.99 * 0.999)
    assert quote.imbalance_10bps == pytest.approx(-100.2 / 700.06)


def test_depth_without_a_usd_price_is_absent_and_counted() -> None:
    """ETHBTC in BTC with no BTCUSDT price: no USD depth (counted), the imbalance stays."""
    eth = book_top("binance", [(0.05, 10.0)], [(0.0501, 10.0)], symbol="ETHBTC", group="ETHBTC",
                   quote="BTC")  # fmt: skip
    state = state_with(eth)
    snap = state.snapshot("ETHBTC", T0)
    assert snap is not None
    quote = snap.venues["binance"]
    assert quote.bid_depth_10bps is None and quote.ask_depth_50bps is None
    assert quote.imbalance_10bps == pytest.approx((0.5 - 0.501) / 1.001)
    assert state.take_unpriced() == {("ETHBTC", "binance", "depth"): 1}


def test_the_new_fields_on_the_wire() -> None:
    state = state_with(
        book_top("binance", BIDS, ASKS, 0), ticker("bybit", 100.0, 100.03, 0, bid_size=0.5)
    )
    snap = state.snapshot(SYMBOL, T0)
    assert snap is not None
    fields = NORMALIZED.encode(snap)
    assert fields["binance_bid_depth_10bps"] == "299.93"
    assert fields["binance_ask_depth_50bps"] == "801.33"
    assert fields["binance_imbalance_10bps"] == "-0.143130588807"  # -100.2 / 700.06
    assert "bybit_bid_depth_10bps" not in fields
    assert (fields["best_bid_size"], fields["best_ask_size"]) == ("0.5", "1.0")
    decoded = NORMALIZED.decode(fields).venues["binance"]
    assert (decoded.bid_depth_10bps, decoded.ask_depth_50bps) == (299.93, 801.33)
    assert decoded.imbalance_10bps == -0.143130588807
    assert NORMALIZED.decode(fields).best_bid_size == 0.5
