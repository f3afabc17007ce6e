"""Snapshot rules: aggregates, staleness, outliers, venue price rule, funding, NBBO, wire."""

from __future__ import annotations

import math

import pytest

from microservices.ai_engine.cross_exchange_aggregator import AggregatorParams, CrossExchangeState
from microservices.common import derived_schemas
from microservices.common.records import AnyRaw, NormalizedSnapshot
from tests.factories import assert_wire_round_trip
from tests.unit.aggregator.builders import (
    SYMBOL,
    T0,
    funding,
    kline,
    open_interest,
    quote,
    ticker,
    trade,
)


def state_with(*records: AnyRaw, params: AggregatorParams | None = None) -> CrossExchangeState:
    state = CrossExchangeState(params or AggregatorParams())
    for record in records:
        state.update(record)
    return state


def snap_at(state: CrossExchangeState, at: int = 0) -> NormalizedSnapshot:
    snap = state.snapshot(SYMBOL, T0 + at)
    assert snap is not None
    return snap


def test_three_venue_aggregates() -> None:
    # mids 100, 101, 103
    state = state_with(quote("binance", 100.0), quote("bybit", 101.0), quote("coinbase", 103.0))
    snap = snap_at(state, 500)
    assert snap.ts_ms == T0 + 500
    assert snap.avg_price == pytest.approx(304.0 / 3)
    assert snap.median_price == 101.0
    # deviations -4/3, -1/3, 5/3 -> variance (16 + 1 + 25) / 9 / 3 = 14/9
    assert snap.price_divergence == pytest.approx(math.sqrt(14.0 / 9.0))
    assert snap.exchange_divergence == pytest.approx(3.0 / 101.0)
    assert snap.num_exchanges == 3
    assert list(snap.venues) == ["binance", "bybit", "coinbase"]
    assert snap.venues["coinbase"].price == 103.0
    assert snap.venues["coinbase"].age_ms == 500
    assert snap.excluded == {}


def test_outlier_excluded_and_not_averaged() -> None:
    state = state_with(
        quote("binance", 100.0),
        quote("bybit", 100.2),
        quote("coinbase", 99.9),
        quote("okx", 110.0),  # median of four is 100.1; okx is 9.9 % away
    )
    snap = snap_at(state)
    assert snap.excluded == {"okx": "outlier"}
    assert "okx" not in snap.venues
    assert snap.num_exchanges == 3
    assert snap.avg_price == pytest.approx((100.0 + 100.2 + 99.9) / 3)
    assert snap.median_price == 100.0


def test_outlier_threshold_is_a_percent() -> None:
    params = AggregatorParams(outlier_pct=1.0)
    state = state_with(
        quote("binance", 100.0), quote("bybit", 100.5), quote("coinbase", 101.2), params=params
    )
    # median 100.5: coinbase is 0.697 % away (kept), binance 0.4975 % (kept)
    assert snap_at(state).excluded == {}
    state.update(quote("coinbase", 101.6, 1))  # now 1.09 % away
    assert snap_at(state, 1).excluded == {"coinbase": "outlier"}


def test_stale_venue_excluded() -> None:
    state = state_with(
        quote("binance", 100.0, 0),
        quote("bybit", 102.0, 5_000),
        quote("coinbase", 104.0, 5_000),
    )
    snap = snap_at(state, 10_001)  # binance is 10.001 s old
    assert snap.excluded == {"binance": "stale"}
    assert snap.avg_price == pytest.approx(103.0)
    assert snap.venues["bybit"].age_ms == 5_001
    assert snap_at(state, 10_000).excluded == {}  # exactly stale_after_ms is still fresh


def test_two_venues_keep_both_even_far_apart() -> None:
    state = state_with(quote("binance", 100.0), quote("bybit", 120.0))
    snap = snap_at(state)
    assert snap.num_exchanges == 2
    assert snap.excluded == {}
    assert snap.avg_price == 110.0
    assert snap.price_divergence == pytest.approx(10.0)
    assert snap.exchange_divergence == pytest.approx(20.0 / 110.0)


def test_below_min_exchanges_is_none() -> None:
    state = state_with(quote("binance", 100.0, 0), quote("bybit", 101.0, 20_000))
    assert state.snapshot(SYMBOL, T0 + 20_000) is None  # binance stale -> one venue left
    assert state.snapshot("ETHUSDT", T0) is None  # unknown symbol
    one = state_with(quote("binance", 100.0), params=AggregatorParams(min_exchanges=1))
    assert snap_at(one).num_exchanges == 1
    assert snap_at(one).price_divergence == 0.0


def test_venue_price_rule() -> None:
    state = state_with(kline("binance", 99.0, 0), quote("bybit", 100.0, 0))
    assert snap_at(state).venues["binance"].price == 99.0  # kline close when nothing else
    state.update(ticker("binance", 100.0, 101.0, 1_000))
    assert snap_at(state, 1_000).venues["binance"].price == 100.5  # ticker beats kline
    state.update(trade("binance", 102.0, 2_000))
    quote_now = snap_at(state, 2_500).venues["binance"]
    assert quote_now.price == 102.0  # newer trade beats older ticker
    assert quote_now.age_ms == 500  # age of the trade, the source used
    assert quote_now.bid == 100.0  # the ticker is still fresh, so the book is reported
    state.update(ticker("binance", 101.0, 102.0, 1_900, recv=2_000))
    assert snap_at(state, 2_500).venues["binance"].price == 101.5  # same receive time: ticker
    state.update(kline("binance", 50.0, 3_000))
    assert snap_at(state, 3_000).venues["binance"].price == 101.5  # kline only as a last resort


# Raw funding_rate is a fraction per settlement interval; every derived funding field is in
# percent per 8 h: rate * 100 * 8 / interval_h.
@pytest.mark.parametrize(
    ("rate", "interval_h", "expected_pct_8h"),
    [
        (0.0001, 1.0, 0.08),  # 0.01 % per hour -> 8 settlements -> 0.08 %/8h
        (0.00005, 4.0, 0.01),  # 0.005 % per 4 h -> 2 settlements -> 0.01 %/8h
        (0.0001, 8.0, 0.01),
        (-0.0003, 8.0, -0.03),
    ],
)
def test_funding_converted_to_percent_per_8h(
    rate: float, interval_h: float, expected_pct_8h: float
) -> None:
    state = state_with(
        quote("binance", 100.0), quote("bybit", 100.0), funding("bybit", rate, interval_h)
    )
    snap = snap_at(state)
    assert snap.venues["bybit"].funding_8h == pytest.approx(expected_pct_8h)
    assert snap.venues["binance"].funding_8h is None  # spot venue
    assert snap.avg_funding_rate == pytest.approx(expected_pct_8h)
    assert snap.funding_delta == 0.0  # one perp venue


def two_perps(
    rate_a: float, interval_a: float, rate_b: float, interval_b: float
) -> NormalizedSnapshot:
    return snap_at(
        state_with(
            quote("binance_futures", 100.0),
            quote("bybit", 100.0),
            funding("binance_futures", rate_a, interval_a),
            funding("bybit", rate_b, interval_b),
        )
    )


@pytest.mark.parametrize(
    ("rates", "avg", "delta"),
    [
        # +0.01 and +0.03 %/8h: longs pay on balance -> +(0.03 - 0.01)
        ((0.0001, 8.0, 0.0003, 8.0), 0.02, 0.02),
        # -0.01 and -0.05 %/8h: shorts pay -> -(0.05 - 0.01) = -0.04; mean -0.03
        ((-0.0001, 8.0, -0.0005, 8.0), -0.03, -0.04),
        # -0.01 and +0.03: mean +0.01 > 0 -> +0.04
        ((-0.0001, 8.0, 0.0003, 8.0), 0.01, 0.04),
        # +0.01 and -0.03: mean -0.01 < 0 -> -0.04
        ((0.0001, 8.0, -0.0003, 8.0), -0.01, -0.04),
        # -0.02 and +0.02: nobody pays on balance -> 0
        ((-0.0002, 8.0, 0.0002, 8.0), 0.0, 0.0),
        # 0.00005 per 4 h = 0.01 %/8h, 0.0003 per 8 h = 0.03 %/8h
        ((0.00005, 4.0, 0.0003, 8.0), 0.02, 0.02),
    ],
)
def test_funding_delta_is_the_spread_with_the_sign_of_the_mean(
    rates: tuple[float, float, float, float], avg: float, delta: float
) -> None:
    snap = two_perps(*rates)
    assert snap.avg_funding_rate == pytest.approx(avg, abs=1e-12)
    assert snap.funding_delta == pytest.approx(delta, abs=1e-12)
    assert snap.venues["binance_futures"].funding_8h == pytest.approx(rates[0] * 800 / rates[1])


def test_funding_average_and_delta_over_two_perps() -> None:
    state = state_with(
        quote("binance", 100.0),
        quote("binance_futures", 100.0),
        quote("bybit", 100.0),
        funding("binance_futures", 0.0002, 4.0),  # 0.04 % per 8 h
        funding("bybit", 0.0001, 1.0),  # 0.08 % per 8 h
    )
    snap = snap_at(state)
    assert snap.avg_funding_rate == pytest.approx(0.06)
    assert snap.funding_delta == pytest.approx(0.04)  # mean > 0: +(0.08 - 0.04)
    # funding older than funding_stale_after_ms (180 s) drops out
    for venue, mid in (("binance", 100.0), ("binance_futures", 100.0)):
        state.update(quote(venue, mid, 200_000))
    state.update(funding("binance_futures", 0.0002, 4.0, 100_000))
    state.update(quote("bybit", 100.0, 200_000))
    snap = snap_at(state, 200_000)
    assert snap.venues["bybit"].funding_8h is None
    assert snap.avg_funding_rate == pytest.approx(0.04)
    assert snap.funding_delta == 0.0


def test_no_funding_gives_zeros() -> None:
    snap = snap_at(state_with(quote("binance", 100.0), quote("coinbase", 100.0)))
    assert (snap.avg_funding_rate, snap.funding_delta) == (0.0, 0.0)


def test_nbbo_crossed() -> None:
    state = state_with(ticker("binance", 100.0, 101.0), ticker("bybit", 102.0, 103.0))
    snap = snap_at(state)
    assert (snap.best_bid, snap.best_bid_exchange) == (102.0, "bybit")
    assert (snap.best_ask, snap.best_ask_exchange) == (101.0, "binance")
    assert snap.arb_bps == pytest.approx(1.0 / 101.5 * 1e4)


def test_nbbo_not_crossed() -> None:
    state = state_with(ticker("binance", 100.0, 101.0), ticker("coinbase", 100.5, 101.5))
    snap = snap_at(state)
    assert (snap.best_bid, snap.best_bid_exchange) == (100.5, "coinbase")
    assert (snap.best_ask, snap.best_ask_exchange) == (101.0, "binance")
    assert snap.arb_bps == 0.0


def test_nbbo_ignores_stale_tickers_of_fresh_venues() -> None:
    state = state_with(
        ticker("binance", 100.0, 101.0, 0),
        ticker("bybit", 99.0, 99.5, 0),
        trade("bybit", 100.2, 15_000),  # keeps bybit fresh while its ticker goes stale
        ticker("binance", 100.0, 101.0, 15_000),
    )
    snap = snap_at(state, 15_000)
    assert snap.venues["bybit"].bid is None and snap.venues["bybit"].price == 100.2
    assert (snap.best_bid_exchange, snap.best_ask_exchange) == ("binance", "binance")
    assert snap.arb_bps == 0.0


def test_volume_and_open_interest() -> None:
    state = state_with(
        quote("binance", 100.0, 0),
        quote("bybit", 100.0, 0),
        trade("bybit", 100.0, 0, size=2.0),
        trade("bybit", 100.0, 30_000, size=3.0),
        trade("bybit", 100.0, 59_000, size=0.5),
        open_interest("bybit", 10.0, None, 0),
        quote("bybit", 101.0, 61_000),
        quote("binance", 100.0, 61_000),
    )
    snap = snap_at(state, 61_000)
    bybit = snap.venues["bybit"]
    assert bybit.volume == pytest.approx(3.5)  # the trade at t=0 left the 60 s window
    assert bybit.open_interest_usd == pytest.approx(1010.0)  # contracts * venue price
    assert snap.venues["binance"].volume is None  # no trades ever: no volume data
    assert snap.venues["binance"].open_interest_usd is None
    # the venue's own value (quote units, at its price) is not used: contracts decide
    state.update(open_interest("bybit", 10.0, 999.0, 61_000))
    assert snap_at(state, 61_000).venues["bybit"].open_interest_usd == pytest.approx(1010.0)


def test_snapshot_round_trips_through_normalized_schema() -> None:
    state = state_with(
        ticker("binance", 100.0, 101.0, bid_size=2.0, ask_size=3.0),
        ticker("bybit", 102.0, 103.0),
        trade("bybit", 102.5, 10, size=1.5),
        funding("bybit", 0.0001, 8.0),
        open_interest("bybit", 5.0, 512.5),
        quote("coinbase", 250.0),  # outlier
        quote("okx", 101.0, -20_000),  # stale
    )
    snap = snap_at(state, 100)
    assert snap.excluded == {"coinbase": "outlier", "okx": "stale"}
    encoded = derived_schemas.NORMALIZED.encode(snap)
    assert encoded["binance_price"] == "100.5"
    assert encoded["excluded"] == "coinbase:outlier,okx:stale"
    assert_wire_round_trip(derived_schemas.NORMALIZED, snap)


def test_invalid_records_are_ignored() -> None:
    state = state_with(quote("binance", 100.0), quote("bybit", 100.0))
    state.update(ticker("binance", 101.0, 100.0, 1))  # crossed book on one venue
    state.update(trade("bybit", float("nan"), 1))
    state.update(trade("bybit", -1.0, 1))
    snap = snap_at(state, 1)
    assert snap.avg_price == 100.0


def test_venues_meet_under_the_group_whatever_their_own_symbol() -> None:
    """Coinbase's BTC-USD book (canonical BTCUSD, quote USD) joins Binance's BTCUSDT under the
    group BTCUSDT; ETHBTC (its own group) stays apart."""
    coinbase = quote("coinbase", 101.0)
    coinbase.symbol, coinbase.venue_symbol, coinbase.quote = "BTCUSD", "BTC-USD", "USD"
    ethbtc = quote("binance", 50.0, symbol="ETHBTC")
    ethbtc.quote = "BTC"
    state = state_with(quote("binance", 100.0), coinbase, ethbtc)
    snap = snap_at(state)
    assert (snap.symbol, snap.num_exchanges, set(snap.venues)) == (
        "BTCUSDT",
        2,
        {"binance", "coinbase"},
    )
    assert snap.venues["coinbase"].price == 101.0 and snap.avg_price == 100.5
    assert state.symbols() == ["BTCUSDT", "ETHBTC"]
    assert state.snapshot("BTCUSD", T0) is None  # nothing is keyed by an instrument's own name
