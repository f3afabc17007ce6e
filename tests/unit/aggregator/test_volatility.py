"""volatility_factor: sampling, warm-up, ratio on a constructed path, cap, gap restart."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microservices.ai_engine.aggregation.volatility import MIN_SHORT_RETURNS, VolatilityTracker
from microservices.ai_engine.cross_exchange_aggregator import AggregatorParams, CrossExchangeState
from tests.unit.aggregator.builders import SYMBOL, T0, quote

SHORT_MS = 300_000
LONG_MS = 3_600_000


def alternating(amplitude: float, count: int) -> list[float]:
    return [amplitude if i % 2 == 0 else -amplitude for i in range(count)]


def path_from_returns(returns: list[float], start: float = 100.0) -> list[float]:
    return [start * math.exp(x) for x in np.concatenate([[0.0], np.cumsum(returns)])]


def expected_factor(returns: list[float], cap: float = 5.0) -> float:
    """Sample k (k >= 1) ends at k * 1000 ms; the tracker has committed samples 0..len(returns)."""
    last_t = len(returns) * 1000
    ends = np.arange(1, len(returns) + 1) * 1000
    r = np.asarray(returns)
    short = r[ends > last_t - SHORT_MS]
    long = r[ends > last_t - LONG_MS]
    return min(float(np.std(short) / np.std(long)), cap)


def run_tracker(prices: list[float], cap: float = 5.0) -> VolatilityTracker:
    tracker = VolatilityTracker(1_000, SHORT_MS, LONG_MS, cap)
    for k, price in enumerate(prices):
        tracker.observe(T0 + k * 1_000 + 123, price)  # somewhere inside bucket k
    tracker.observe(T0 + len(prices) * 1_000, prices[-1])  # opens the next bucket: commits k
    return tracker


def test_ratio_on_constructed_path() -> None:
    # an hour of ±1 bp returns, then five minutes of ±5 bp returns
    returns = alternating(1e-4, 3_300) + alternating(5e-4, 300)
    tracker = run_tracker(path_from_returns(returns))
    expected = expected_factor(returns)
    # by hand: short std 5e-4; the long window holds all 3600 returns:
    # sqrt((3300 * 1e-8 + 300 * 25e-8) / 3600)
    assert expected == pytest.approx(5e-4 / math.sqrt((3_300e-8 + 300 * 25e-8) / 3_600), rel=1e-3)
    assert tracker.factor() == pytest.approx(expected, rel=1e-9)


def test_long_window_evicts_old_returns() -> None:
    returns = alternating(3e-4, 2_000) + alternating(1e-4, 3_000) + alternating(2e-4, 300)
    tracker = run_tracker(path_from_returns(returns))
    assert tracker.factor() == pytest.approx(expected_factor(returns), rel=1e-9)


def test_cap() -> None:
    returns = alternating(1e-6, 3_600) + alternating(1e-3, 300)
    # uncapped: the long window holds the short one, so the ratio is at most about
    # sqrt(3600 / 300) = 3.46 with the default windows
    assert run_tracker(path_from_returns(returns), cap=5.0).factor() == pytest.approx(
        expected_factor(returns), rel=1e-9
    )
    assert expected_factor(returns) == pytest.approx(math.sqrt(12.0), rel=1e-3)
    assert run_tracker(path_from_returns(returns), cap=2.5).factor() == 2.5


def test_warm_up_needs_returns_and_span() -> None:
    returns = alternating(1e-4, 200) + alternating(5e-4, 100)  # 300 samples: span == short window
    tracker = run_tracker(path_from_returns(returns))
    assert tracker.factor() == 1.0
    more = returns + alternating(5e-4, 2)
    assert run_tracker(path_from_returns(more)).factor() != 1.0  # span now > 300 s
    # a short window that can never hold MIN_SHORT_RETURNS returns keeps the neutral 1.0
    narrow = VolatilityTracker(1_000, (MIN_SHORT_RETURNS - 1) * 1_000, 60_000, 5.0)
    for k in range(120):
        narrow.observe(k * 1_000, 100.0 * (1.01 if k % 2 else 1.0) * (1.05 if k > 100 else 1.0))
    assert narrow.factor() == 1.0


def test_flat_price_gives_one() -> None:
    assert run_tracker([100.0] * 4_000).factor() == 1.0
    moved_then_flat = path_from_returns(alternating(3e-3, 500))[:-1] + [100.0] * 3_700
    assert run_tracker(moved_then_flat).factor() == 1.0  # long window flat again: exactly 1.0


def test_same_bucket_keeps_latest_price() -> None:
    tracker = VolatilityTracker(1_000, 20_000, 50_000, 5.0)
    for k in range(60):
        tracker.observe(k * 1_000, 999.0)  # overwritten below within the same bucket
        tracker.observe(k * 1_000 + 500, 100.0 * (1.01 if k % 2 else 1.0))
    tracker.observe(58_000, 1.0)  # an earlier bucket than the pending one: ignored
    tracker.observe(60_000, 100.0)
    assert tracker.factor() == pytest.approx(1.0)  # the same alternation in both windows


def test_gap_longer_than_short_window_restarts_warm_up() -> None:
    returns = alternating(1e-4, 600)
    tracker = run_tracker(path_from_returns(returns))
    assert tracker.factor() == pytest.approx(1.0)
    tracker.observe(T0 + 1_000_000, 150.0)
    tracker.observe(T0 + 1_001_000, 150.0)
    assert tracker.factor() == 1.0


def test_factor_through_snapshots() -> None:
    params = AggregatorParams(vol_short_window_ms=20_000, vol_long_window_ms=100_000)
    state = CrossExchangeState(params)
    returns = alternating(2e-4, 100) + alternating(6e-4, 20)
    prices = path_from_returns(returns)
    factors = []
    for k, price in enumerate(prices):
        state.update(quote("binance", price, k * 1_000))
        state.update(quote("bybit", price, k * 1_000))
        snap = state.snapshot(SYMBOL, T0 + k * 1_000)
        assert snap is not None
        factors.append(snap.volatility_factor)
    assert factors[:21] == [1.0] * 21  # committed history spans <= 20 s until then
    # at step k the committed samples are 0..k-1, i.e. returns[: k - 1]
    done = returns[: len(prices) - 2]
    ends = np.arange(1, len(done) + 1) * 1_000
    r = np.asarray(done)
    short = r[ends > ends[-1] - 20_000]
    long = r[ends > ends[-1] - 100_000]
    assert factors[-1] == pytest.approx(float(np.std(short) / np.std(long)), rel=1e-9)
    assert factors[-1] > 1.5
