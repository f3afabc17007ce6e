"""Any snapshot sequence yields exactly FEATURE_NAMES, all finite, through the FEATURES schema;
and the incremental rolling primitives agree with direct computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microservices.ai_engine.features.engine import FeatureEngine, FeatureParams
from microservices.ai_engine.features.rolling import PairCorrelation, RollingStats
from microservices.common import derived_schemas
from microservices.common.records import NormalizedSnapshot, VenueQuote
from tests.factories import assert_wire_round_trip
from tests.unit.features.builders import snapshot

VENUES = ("binance", "binance_futures", "bybit", "coinbase", "okx")
prices = st.floats(min_value=1e-3, max_value=1e6)
maybe_size = st.none() | st.floats(min_value=0.0, max_value=1e6)

quote_strategy = st.builds(
    VenueQuote,
    price=prices,
    bid=st.none() | prices,
    ask=st.none() | prices,
    bid_size=maybe_size,
    ask_size=maybe_size,
    volume=maybe_size,
    funding_8h=st.none() | st.floats(min_value=-0.01, max_value=0.01),
    open_interest_usd=maybe_size,
    bid_depth_10bps=maybe_size,
    ask_depth_10bps=maybe_size,
    age_ms=st.integers(min_value=0, max_value=20_000),
)


@st.composite
def snapshots(draw: st.DrawFn) -> list[NormalizedSnapshot]:
    out: list[NormalizedSnapshot] = []
    at = 0
    for _ in range(draw(st.integers(min_value=1, max_value=25))):
        at += draw(st.integers(min_value=0, max_value=5_000))
        names = draw(st.lists(st.sampled_from(VENUES), min_size=1, max_size=5, unique=True))
        quotes: dict[str, float | VenueQuote] = {name: draw(quote_strategy) for name in names}
        best = draw(st.none() | prices)
        out.append(
            snapshot(
                quotes,
                at,
                best_bid=best,
                best_ask=draw(st.none() | prices),
                best_bid_size=draw(maybe_size),
                best_ask_size=draw(maybe_size),
                best_bid_exchange=draw(st.sampled_from(VENUES)),
                best_ask_exchange=draw(st.sampled_from(VENUES)),
                excluded=draw(st.sampled_from([{}, {"okx": "stale"}])),
                volatility_factor=draw(st.floats(min_value=0.0, max_value=5.0)),
            )
        )
    return out


@settings(max_examples=150, deadline=None)
@given(snapshots())
def test_features_always_complete_and_finite(sequence: list[NormalizedSnapshot]) -> None:
    engine = FeatureEngine(FeatureParams(rolling_window=5))
    for snap in sequence:
        vector = engine.update(snap)
        assert tuple(vector.values) == derived_schemas.FEATURE_NAMES
        assert all(math.isfinite(v) for v in vector.values.values()), vector.values
        assert 0.0 <= vector.values["price_entropy"] <= 1.0
        assert -1.0 <= vector.values["price_sync_correlation"] <= 1.0
        assert -1.0 <= vector.values["book_imbalance_10bps"] <= 1.0
        assert vector.values["nbbo_crossed_ms"] >= 0.0
        assert_wire_round_trip(derived_schemas.FEATURES, vector)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(min_value=-1e3, max_value=1e3), min_size=1, max_size=200),
    st.integers(min_value=1, max_value=30),
)
def test_rolling_stats_match_numpy(values: list[float], size: int) -> None:
    stats = RollingStats(size)
    for k, value in enumerate(values):
        stats.push(60_000.0 + value)
        window = np.asarray(values[max(0, k + 1 - size) : k + 1]) + 60_000.0
        assert stats.mean() == pytest.approx(float(window.mean()), abs=1e-6)
        expected_std = float(window.std()) if len(window) >= 2 else 0.0
        assert stats.std() == pytest.approx(expected_std, abs=1e-5)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(("a", "b", "c")),
            st.integers(min_value=-100, max_value=100).map(lambda k: k / 1e4),
            max_size=3,
        ),
        max_size=120,
    ),
    st.integers(min_value=1, max_value=25),
)
def test_pair_correlation_matches_direct(rows: list[dict[str, float]], size: int) -> None:
    corr = PairCorrelation(size)
    for row in rows:
        corr.push(row)
    window = rows[-size:]
    rhos = []
    for a, b in (("a", "b"), ("a", "c"), ("b", "c")):
        pairs = np.array([(r[a], r[b]) for r in window if a in r and b in r]).reshape(-1, 2)
        if len(pairs) < 3 or pairs[:, 0].var() <= 1e-20 or pairs[:, 1].var() <= 1e-20:
            continue
        rhos.append(float(np.corrcoef(pairs[:, 0], pairs[:, 1])[0, 1]))
    expected = float(np.mean(rhos)) if rhos else 0.0
    assert corr.mean_correlation(3) == pytest.approx(expected, abs=1e-6)


def test_flat_windows_are_exactly_flat_after_large_moves() -> None:
    stats = RollingStats(3)
    corr = PairCorrelation(3)
    for x in (0.05, -0.07, 0.03, 0.0, 0.0, 0.0):
        stats.push(x)
        corr.push({"a": x, "b": -x if x else 0.001 * len(stats)})
    assert stats.std() == 0.0
    assert corr.mean_correlation(3) == 0.0  # "a" is flat in the window: no correlation
