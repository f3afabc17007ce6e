"""The ten seed-000 features and the copied context features, with hand-computed values."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from microservices.ai_engine.features.engine import FeatureEngine, FeatureParams
from microservices.common import derived_schemas
from microservices.common.records import NormalizedSnapshot
from tests.unit.features.builders import SYMBOL, T0, snapshot


def engine(**params: Any) -> FeatureEngine:
    return FeatureEngine(FeatureParams(**params))


def test_copied_fields_and_exact_feature_names() -> None:
    snap = snapshot(
        {"binance": 100.0, "bybit": 101.0},
        funding_delta=0.0004,
        avg_funding_rate=0.0006,
        volatility_factor=2.5,
    )
    values = engine().update(snap).values
    assert list(values) == list(derived_schemas.FEATURE_NAMES)
    assert values["avg_price"] == 100.5
    assert values["price_divergence"] == 0.5
    assert values["funding_delta"] == 0.0004
    assert values["num_exchanges"] == 2.0
    assert values["exchange_divergence"] == pytest.approx(1.0 / 100.5)
    assert values["volatility_factor"] == 2.5
    assert values["avg_funding_rate"] == 0.0006


def test_price_momentum_uses_the_value_one_window_ago() -> None:
    eng = engine()
    assert eng.update(snapshot({"a": 100.0, "b": 100.0}, 0)).values["price_momentum"] == 0.0
    half = eng.update(snapshot({"a": 101.0, "b": 101.0}, 30_000))
    assert half.values["price_momentum"] == 0.0  # history does not reach 60 s back yet
    full = eng.update(snapshot({"a": 102.0, "b": 102.0}, 60_000))
    assert full.values["price_momentum"] == pytest.approx(2.0)  # vs 100 at t=0
    later = eng.update(snapshot({"a": 103.0, "b": 103.0}, 90_000))
    assert later.values["price_momentum"] == pytest.approx((103.0 / 101.0 - 1) * 100)


def test_volatility_spread_is_rolling_population_std() -> None:
    eng = engine(rolling_window=3)
    assert eng.update(snapshot({"a": 100.0}, 0)).values["volatility_spread"] == 0.0
    for at, price in ((1_000, 102.0), (2_000, 104.0)):
        eng.update(snapshot({"a": price}, at))
    last = eng.update(snapshot({"a": 110.0}, 3_000))  # window: 102, 104, 110
    assert last.values["volatility_spread"] == pytest.approx(math.sqrt(104.0 / 9.0))


def test_binance_bybit_ratio_and_fallbacks() -> None:
    eng = engine()
    both = snapshot({"binance": 100.0, "bybit": 99.0, "coinbase": 98.0})
    assert eng.update(both).values["binance_bybit_ratio"] == pytest.approx(100.0 / 99.0)
    futures = snapshot({"binance_futures": 101.0, "bybit": 99.0}, 1)
    assert eng.update(futures).values["binance_bybit_ratio"] == pytest.approx(101.0 / 99.0)
    no_bybit = snapshot({"binance": 100.0, "coinbase": 98.0}, 2)
    assert eng.update(no_bybit).values["binance_bybit_ratio"] == 1.0
    custom = engine(ratio_pair=("coinbase", "binance")).update(both)
    assert custom.values["binance_bybit_ratio"] == pytest.approx(0.98)


def test_hour_and_day_of_week_in_utc() -> None:
    values = engine().update(snapshot({"a": 1.0})).values
    moment = datetime.fromtimestamp(T0 / 1000, tz=UTC)
    assert (moment.hour, moment.weekday()) == (22, 1)
    assert (values["hour"], values["day_of_week"]) == (22.0, 1.0)
    sunday_midnight = datetime(2024, 1, 7, tzinfo=UTC)
    ts = int(sunday_midnight.timestamp() * 1000)
    values = engine().update(snapshot({"a": 1.0}, ts - T0)).values
    assert (values["hour"], values["day_of_week"]) == (0.0, 6.0)


def test_all_exchanges_active() -> None:
    four = {"binance": 1.0, "binance_futures": 1.0, "bybit": 1.0, "coinbase": 1.0}
    assert engine().update(snapshot(four)).values["all_exchanges_active"] == 1.0
    dropped = snapshot(four, excluded={"okx": "stale"})
    assert engine().update(dropped).values["all_exchanges_active"] == 0.0
    three = snapshot({"binance": 1.0, "bybit": 1.0, "coinbase": 1.0})
    assert engine().update(three).values["all_exchanges_active"] == 0.0
    assert engine(expected_exchanges=3).update(three).values["all_exchanges_active"] == 1.0


def test_symbols_keep_separate_histories() -> None:
    eng = engine(rolling_window=5)
    eng.update(snapshot({"a": 100.0}, 0))
    other = snapshot({"a": 5.0}, 1_000, symbol="ETHUSDT")
    assert eng.update(other).values["volatility_spread"] == 0.0
    assert eng.update(snapshot({"a": 102.0}, 2_000)).values["volatility_spread"] == 1.0
    assert eng.update(snapshot({"a": 102.0}, 2_000)).symbol == SYMBOL


def test_snapshot_without_venues_uses_fallbacks() -> None:
    empty = NormalizedSnapshot(
        symbol=SYMBOL, ts_ms=T0, avg_price=100.0, median_price=100.0, price_divergence=0.0,
        exchange_divergence=0.0, funding_delta=0.0, avg_funding_rate=0.0,
        volatility_factor=1.0, num_exchanges=0,
    )  # fmt: skip
    values = engine().update(empty).values
    assert values["binance_bybit_ratio"] == 1.0
    assert values["price_dispersion"] == 0.0 and values["volume_concentration"] == 0.0
    assert values["lead_lag_coefficient"] == 0.0 and values["cross_exchange_vol_ratio"] == 1.0


def test_out_of_order_snapshot_is_scored_but_not_recorded() -> None:
    eng = engine(rolling_window=5)
    eng.update(snapshot({"a": 100.0}, 10_000))
    late = eng.update(snapshot({"a": 200.0}, 5_000))
    assert late.values["avg_price"] == 200.0
    assert late.values["volatility_spread"] == 0.0  # the late snapshot did not enter history
    assert eng.update(snapshot({"a": 102.0}, 11_000)).values["volatility_spread"] == 1.0
