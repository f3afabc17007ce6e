"""Honesty checks (issue 17): a planted lead-lag is found, pure noise is not, and purging
removes exactly the rows whose label windows touch a test window. Fixed seeds, 20,000 rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from microservices.ml.dataset import DEFAULT_FEATURES, LabelConfig, build_dataset, purge_mask
from microservices.ml.generator import GeneratorConfig, generate_features
from microservices.ml.walk_forward import WalkForwardConfig, WalkForwardOptimizer

pytest.importorskip("lightgbm")

ROWS = 20_000
WF = WalkForwardConfig(train_ms=7_200_000, test_ms=1_800_000, embargo_ms=5_000,
                       num_boost_round=200, early_stopping_rounds=20)  # fmt: skip


def _pooled_auc(lag_steps: int, label: LabelConfig) -> tuple[float, int]:
    frame = generate_features(GeneratorConfig(rows=ROWS, lag_steps=lag_steps, seed=11))
    data = build_dataset(frame, label)
    assert len(data) >= 19_900
    optimizer = WalkForwardOptimizer(WF, params={"num_threads": 1})
    optimizer.run_optimization(data, DEFAULT_FEATURES)
    return optimizer.get_aggregate_metrics()["pooled_auc"], len(optimizer.predictions)


def test_planted_lead_lag_is_found() -> None:
    # the leader is 5 s ahead: the followers' next 5 s are known from the cross-venue gap
    auc, tested = _pooled_auc(5, LabelConfig(kind="sign", horizon_ms=5_000))
    assert tested > 12_000
    assert auc >= 0.6


@pytest.mark.parametrize("label", [
    LabelConfig(kind="sign", horizon_ms=5_000),
    LabelConfig(kind="triple_barrier", horizon_ms=30_000, tp_bps=8.0, sl_bps=8.0),
])  # fmt: skip
def test_pure_noise_stays_at_chance(label: LabelConfig) -> None:
    auc, tested = _pooled_auc(0, label)
    assert tested > 12_000
    assert abs(auc - 0.5) <= 0.05


def test_purge_and_embargo_by_hand() -> None:
    # ten rows one second apart, each label window 2.5 s long (t1 = t0 + 2500)
    t0 = np.arange(10, dtype=np.int64) * 1000
    t1 = t0 + 2500
    # test window [5000, 7000): rows 5 and 6 are in it; rows 3 and 4 have labels ending at
    # 5500 and 6500, inside it (purged); row 2 ends at 4500 (kept). Embargo 2000 ms after
    # 7000 removes rows 7 and 8 (t0 7000, 8000); row 9 (t0 9000) is kept.
    keep = purge_mask(t0, t1, 5000, 7000, 2000)
    assert np.flatnonzero(~keep).tolist() == [3, 4, 5, 6, 7, 8]
    assert np.flatnonzero(purge_mask(t0, t1, 5000, 7000, 0) == 0).tolist() == [3, 4, 5, 6]


def test_labels_never_look_before_their_row() -> None:
    frame = pd.DataFrame({"symbol": "X", "ts_ms": np.arange(6) * 1000,
                          "avg_price": [100.0, 100.05, 100.2, 99.0, 99.0, 99.0],
                          "consolidated_spread_bps": 1.0})  # fmt: skip
    data = build_dataset(frame, LabelConfig(horizon_ms=2_000, tp_bps=10.0, sl_bps=10.0))
    # row 0: +5 bps at 1 s, +20 bps at 2 s -> TP at t=2000; row 1: +15 bps at 2 s -> TP;
    # row 2: -120 bps at 3 s -> SL; row 3: flat until the time barrier at 5 s -> 0
    assert data["label"].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert data["t1_ms"].tolist() == [2000, 2000, 3000, 5000]
    assert (data["t1_ms"] > data["ts_ms"]).all()
    assert data["ret_bps"].iloc[2] == pytest.approx(np.log(99.0 / 100.2) * 1e4)
    assert data["cost_bps"].tolist() == [6.0] * 4
