"""Hayashi-Yoshida lead-lag: estimator against its definition, and a known 500 ms lag."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microservices.ai_engine.features.engine import FeatureEngine, FeatureParams
from microservices.ai_engine.features.lead_lag import (
    TickSeries,
    best_lag_ms,
    hy_correlations,
    lag_grid,
)
from microservices.common.records import VenueQuote
from tests.unit.features.builders import snapshot

LAGS = lag_grid(2_000, 250)


def hy_by_definition(
    tx: np.ndarray, x: np.ndarray, ty: np.ndarray, y: np.ndarray, lag: int
) -> float:
    """The O(n·m) double sum over overlapping intervals, Y shifted by -lag."""
    cov = 0.0
    for i in range(1, len(tx)):
        for j in range(1, len(ty)):
            if tx[i - 1] < ty[j] - lag and ty[j - 1] - lag < tx[i]:
                cov += (x[i] - x[i - 1]) * (y[j] - y[j - 1])
    dx, dy = np.diff(x), np.diff(y)
    return cov / math.sqrt(float(dx @ dx) * float(dy @ dy))


@pytest.mark.parametrize("seed", range(8))
def test_matches_the_double_sum(seed: int) -> None:
    rng = np.random.default_rng(seed)
    grid = np.arange(0, 20_000, 250 if seed % 2 else 1)  # aligned grids exercise ties
    tx = np.sort(rng.choice(grid, 25, replace=False)).astype(np.int64)
    ty = np.sort(rng.choice(grid, 18, replace=False)).astype(np.int64)
    x, y = rng.normal(size=25).cumsum(), rng.normal(size=18).cumsum()
    got = hy_correlations(tx, x, ty, y, LAGS)
    expected = [hy_by_definition(tx, x, ty, y, int(lag)) for lag in LAGS]
    assert got == pytest.approx(expected, abs=1e-12)


def test_degenerate_inputs() -> None:
    t = np.array([0, 1_000], dtype=np.int64)
    flat = np.array([1.0, 1.0])
    assert not hy_correlations(t, flat, t, np.array([1.0, 2.0]), LAGS).any()
    assert not hy_correlations(t[:1], flat[:1], t, flat, LAGS).any()
    assert best_lag_ms(t, flat, t, flat, LAGS) == 0


def leader_path(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Irregular change times of the leader (gaps 60-900 ms) and its log-price path."""
    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.integers(60, 900, size=600)).astype(np.int64)
    levels = np.log(100.0) + np.cumsum(rng.normal(0.0, 1e-4, size=600))
    return times, levels


def test_best_lag_recovers_500ms() -> None:
    t, v = leader_path(1)
    assert best_lag_ms(t, v, t + 500, v, LAGS) == 500  # the second series follows
    assert best_lag_ms(t + 500, v, t, v, LAGS) == -500
    assert hy_correlations(t, v, t + 500, v, LAGS)[list(LAGS).index(500)] == pytest.approx(1.0)


def feed(leader: str, follower: str, delay_ms: int, seed: int) -> float:
    """Snapshots taken shortly after every change of either venue; the follower copies the
    leader's moves delay_ms later. Returns the final lead_lag_coefficient."""
    times, levels = leader_path(seed)
    events = sorted(
        [(int(t), leader, float(p)) for t, p in zip(times, levels, strict=True)]
        + [(int(t) + delay_ms, follower, float(p)) for t, p in zip(times, levels, strict=True)]
    )
    eng = FeatureEngine(FeatureParams())
    state: dict[str, tuple[int, float]] = {}
    value = math.nan
    for k, (t, venue, logp) in enumerate(events):
        state[venue] = (t, logp)
        nxt = events[k + 1][0] if k + 1 < len(events) else t + 50
        if nxt == t or len(state) < 2:
            continue  # take one snapshot after all changes at the same time
        now = t + min(37, (nxt - t) // 2)  # irregular snapshot delays
        quotes = {
            name: VenueQuote(price=math.exp(p), age_ms=now - seen)
            for name, (seen, p) in state.items()
        }
        value = eng.update(snapshot(quotes, now)).values["lead_lag_coefficient"]
    return value


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_engine_recovers_known_lag(seed: int) -> None:
    assert feed("binance", "bybit", 500, seed) == 0.5  # first venue of ratio_pair leads
    assert feed("bybit", "binance", 500, seed) == -0.5
    # without the ratio pair: the two most active venues, named in a stable order
    assert abs(feed("coinbase", "okx", 750, seed)) == 0.75


def test_needs_two_venues_with_changes() -> None:
    eng = FeatureEngine(FeatureParams())
    for k in range(10):
        values = eng.update(snapshot({"binance": 100.0 + k}, k * 100)).values
        assert values["lead_lag_coefficient"] == 0.0
    frozen: dict[str, float | VenueQuote] = {
        "binance": 110.0,
        "bybit": VenueQuote(price=100.0, age_ms=5),
    }
    assert eng.update(snapshot(frozen, 2_000)).values["lead_lag_coefficient"] == 0.0


def test_tick_series_window_and_growth() -> None:
    series = TickSeries()
    for k in range(1_000):
        series.append(k * 10, float(k))
        series.evict_before(k * 10 - 995)
    t, v = series.arrays()
    assert len(series) == 100 and t[0] == 9_000 and v[-1] == 999.0
    assert series.last() == (9_990, 999.0)


def test_tick_series_memory_is_set_while_the_window_fills() -> None:
    """A steady change rate: the buffers double while the window fills, never after, and
    every held value stays the one appended (the gap is closed in place)."""
    series = TickSeries()
    capacities = []
    for k in range(5_000):
        series.append(k * 10, float(k))
        series.evict_before(k * 10 - 2_995)  # a 300-entry window, full after 300 appends
        capacities.append(len(series._t))
    t, v = series.arrays()
    assert len(series) == 300
    assert list(t) == [k * 10 for k in range(4_700, 5_000)]
    assert list(v) == [float(k) for k in range(4_700, 5_000)]
    assert capacities[299] == 1_024 and set(capacities[300:]) == {1_024}


def test_tick_series_grows_after_the_fill_only_for_a_faster_rate() -> None:
    series = TickSeries()
    for k in range(600):  # one change per 10 ms: a 300-entry window, capacity 1,024
        series.append(k * 10, 0.0)
        series.evict_before(k * 10 - 2_995)
    start = 6_000
    for k in range(2_000):  # three per 10 ms: the window holds ~900 entries, > 3/4 of 1,024
        series.append(start + k * 3, 1.0)
        series.evict_before(start + k * 3 - 2_995)
    assert len(series._t) == 2_048 and 990 <= len(series) <= 1_000
