"""Seed-003 cross-exchange features on small constructed cases (values by hand)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from microservices.ai_engine.features.engine import FeatureEngine, FeatureParams
from microservices.common.records import VenueQuote
from tests.unit.features.builders import snapshot


def features(venues: Mapping[str, float | VenueQuote], **overrides: Any) -> dict[str, float]:
    return FeatureEngine(FeatureParams()).update(snapshot(venues, **overrides)).values


def test_dispersion_and_spread() -> None:
    values = features({"a": 100.0, "b": 102.0})
    assert values["price_dispersion"] == pytest.approx(1.0 / 101.0)  # std 1, mean 101
    assert values["max_price_spread_bps"] == pytest.approx(2.0 / 101.0 * 1e4)
    single = features({"a": 100.0})
    assert (single["price_dispersion"], single["max_price_spread_bps"]) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("prices", "expected"),
    [
        ([100.0, 100.0, 103.0], 0.0),  # one venue carries the whole dislocation
        ([99.0, 100.0, 101.0], math.log(2) / math.log(3)),  # deviations 1, 0, 1
        ([100.0, 102.0], 1.0),  # two venues always share it equally
        ([100.0, 100.0, 100.0], 0.0),  # no dislocation at all
        ([100.0], 0.0),
    ],
)
def test_price_entropy(prices: list[float], expected: float) -> None:
    venues: dict[str, float | VenueQuote] = {f"v{i}": p for i, p in enumerate(prices)}
    assert features(venues)["price_entropy"] == pytest.approx(expected)


def book(price: float, bid: float, ask: float, **extra: Any) -> VenueQuote:
    return VenueQuote(price=price, bid=bid, ask=ask, **extra)


def test_arbitrage_over_ordered_pairs() -> None:
    values = features(
        {
            "a": book(101.25, 101.0, 101.5),
            "b": book(100.25, 100.0, 100.5),
            "c": book(101.0, 100.8, 101.2),
            "d": VenueQuote(price=100.0),  # no book: ignored
        }
    )
    ab = 0.5 / 100.75 * 1e4  # a's bid 101.0 over b's ask 100.5
    cb = 0.3 / 100.65 * 1e4  # c's bid 100.8 over b's ask 100.5
    assert values["arb_opportunity_count"] == 2.0
    assert values["best_arb_opportunity_bps"] == pytest.approx(ab)
    assert values["avg_arb_profit_bps"] == pytest.approx((ab + cb) / 2)


def test_no_arbitrage_gives_zeros() -> None:
    values = features({"a": book(100.0, 99.9, 100.1), "b": book(100.0, 99.95, 100.05)})
    assert values["arb_opportunity_count"] == 0.0
    assert values["best_arb_opportunity_bps"] == 0.0
    assert values["avg_arb_profit_bps"] == 0.0


def test_volume_weighted_dispersion_and_concentration() -> None:
    values = features(
        {"a": VenueQuote(price=100.0, volume=3.0), "b": VenueQuote(price=104.0, volume=1.0)}
    )
    # vw mean 101, vw variance (3 * 1 + 1 * 9) / 4 = 3
    assert values["vw_price_dispersion"] == pytest.approx(math.sqrt(3.0) / 101.0)
    assert values["volume_concentration"] == pytest.approx(0.75**2 + 0.25**2)
    equal = features({f"v{i}": VenueQuote(price=100.0 + i, volume=2.0) for i in range(4)})
    assert equal["volume_concentration"] == pytest.approx(0.25)


def test_volume_fallbacks() -> None:
    one = features({"a": VenueQuote(price=100.0, volume=5.0), "b": VenueQuote(price=102.0)})
    assert one["vw_price_dispersion"] == pytest.approx(one["price_dispersion"])
    assert one["volume_concentration"] == 1.0
    none = features({"a": 100.0, "b": VenueQuote(price=102.0, volume=0.0)})
    assert none["vw_price_dispersion"] == pytest.approx(1.0 / 101.0)
    assert none["volume_concentration"] == 0.0


def test_depth_imbalance() -> None:
    values = features(
        {
            "a": book(100.0, 99.9, 100.1, bid_size=3.0, ask_size=1.0),
            "b": book(100.0, 99.9, 100.1, bid_size=1.0, ask_size=1.0),
            "c": VenueQuote(price=100.0),
        }
    )
    assert values["depth_imbalance_ratio"] == pytest.approx(2.0 / 6.0)
    assert features({"a": 100.0})["depth_imbalance_ratio"] == 0.0


def test_consolidated_spread() -> None:
    venues: dict[str, float | VenueQuote] = {"a": 100.0, "b": 100.0}
    tight = features(venues, best_bid=100.0, best_ask=100.1)
    assert tight["consolidated_spread_bps"] == pytest.approx(0.1 / 100.05 * 1e4)
    crossed = features(venues, best_bid=100.2, best_ask=100.0)
    assert crossed["consolidated_spread_bps"] == pytest.approx(-0.2 / 100.1 * 1e4)
    assert features(venues, best_bid=100.0)["consolidated_spread_bps"] == 0.0


def run(paths: dict[str, list[float]], **params: Any) -> dict[str, float]:
    eng = FeatureEngine(FeatureParams(**params))
    steps = len(next(iter(paths.values())))
    values: dict[str, float] = {}
    for k in range(steps):
        values = eng.update(snapshot({v: p[k] for v, p in paths.items()}, k * 1_000)).values
    return values


def test_price_sync_correlation() -> None:
    a = [100.0, 101.0, 100.5, 102.0]
    paths = {"a": a, "b": [2 * p for p in a], "c": [10_000.0 / p for p in a]}
    # a~b: +1, a~c: -1, b~c: -1 (c's log returns are exactly a's negated)
    assert run(paths)["price_sync_correlation"] == pytest.approx(-1.0 / 3.0)
    assert run({k: v[:3] for k, v in paths.items()})["price_sync_correlation"] == 0.0


def test_price_sync_correlation_window() -> None:
    up_down = [100.0, 101.0, 100.0, 101.0, 100.0, 101.0]
    paths = {"a": [*up_down, 102.0, 101.0, 102.0], "b": [*up_down, 100.0, 101.0, 100.0]}
    assert run(paths, rolling_window=3)["price_sync_correlation"] == pytest.approx(-1.0)
    assert run(paths, rolling_window=20)["price_sync_correlation"] > 0.0


def test_cross_exchange_vol_ratio_and_dispersion() -> None:
    a = [100.0, 101.0, 100.0, 101.0, 100.0]
    b = [100.0, 102.0, 100.0, 102.0, 100.0]
    values = run({"a": a, "b": b})
    std_a = float(np.std(np.diff(np.log(a))))
    std_b = float(np.std(np.diff(np.log(b))))
    assert std_a == pytest.approx(math.log(1.01))
    assert values["cross_exchange_vol_ratio"] == pytest.approx(std_b / std_a)
    assert values["vol_dispersion"] == pytest.approx(abs(std_b - std_a) / 2)


def test_vol_ratio_fallbacks() -> None:
    one = run({"a": [100.0, 101.0, 100.0, 101.0]})
    assert (one["cross_exchange_vol_ratio"], one["vol_dispersion"]) == (1.0, 0.0)
    flat = run({"a": [100.0] * 5, "b": [100.0] * 5})
    assert (flat["cross_exchange_vol_ratio"], flat["vol_dispersion"]) == (1.0, 0.0)
    frozen = run({"a": [100.0] * 5, "b": [100.0, 101.0, 100.0, 101.0, 100.0]})
    assert frozen["cross_exchange_vol_ratio"] == 100.0  # capped when the calmest std is 0
