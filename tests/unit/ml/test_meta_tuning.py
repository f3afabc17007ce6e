"""MetaLabeler, Optuna tuning (SQLite storage), planner barriers and the signal schema."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backend.domains.exits.exit_brain_v3.models import ExitParams
from microservices.common.signal_schema import SIGNALS, SignalRecord
from microservices.ml.barriers import planner_barriers
from microservices.ml.dataset import DEFAULT_FEATURES, LabelConfig, build_dataset
from microservices.ml.generator import GeneratorConfig, generate_features
from microservices.ml.meta import MetaLabeler, MetaLabelingConfig, compare_decisions
from microservices.ml.pipeline import LightGBMPipeline
from microservices.ml.tuning import HyperparameterOptimizer, MultiObjectiveOptimizer, storage_url

pytest.importorskip("lightgbm")
pytest.importorskip("optuna")
ONE_THREAD = {"num_threads": 1}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    frame = generate_features(GeneratorConfig(rows=6_000, lag_steps=5, seed=3))
    return build_dataset(frame, LabelConfig(kind="sign", horizon_ms=5_000))


def _halves(data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    cut = len(data) // 2
    return data.iloc[: cut - 10], data.iloc[cut:]  # 10 rows (> the 5 s horizon) purged


def test_compare_decisions_by_hand() -> None:
    y = np.array([1, 1, 0, 0, 0, 1])
    primary = np.array([1, 1, 1, 1, 0, 0])  # tp 2, fp 2
    final = np.array([1, 0, 1, 0, 0, 0])  # tp 1, fp 1
    out = compare_decisions(y, primary, final)
    assert (out["fp_removed"], out["fp_removed_pct"]) == (1, 50.0)
    assert out["primary_recall"] == pytest.approx(2 / 3) and out["meta_recall"] == pytest.approx(
        1 / 3
    )
    assert out["recall_cost"] == pytest.approx(1 / 3)
    assert (out["primary_precision"], out["meta_precision"]) == (0.5, 0.5)


def test_meta_labeler_filters_primary_positives(data: pd.DataFrame, tmp_path: Path) -> None:
    train, test = _halves(data)
    primary = LightGBMPipeline(params={"num_threads": 1})
    primary.train(train[list(DEFAULT_FEATURES)], train["label"].to_numpy(), num_boost_round=80)
    meta = MetaLabeler(primary, MetaLabelingConfig(primary_threshold=0.5, meta_threshold=0.7))
    # the meta model learns from out-of-sample primary probabilities (the second half's
    # first part), and is judged on the rest
    first, last = test.iloc[: len(test) // 2], test.iloc[len(test) // 2 :]
    meta.train_meta_model(first[list(DEFAULT_FEATURES)], first["label"].to_numpy())
    result = meta.evaluate_meta_system(last[list(DEFAULT_FEATURES)], last["label"].to_numpy())
    assert result["meta_fp"] <= result["primary_fp"] and result["meta_tp"] <= result["primary_tp"]
    assert result["fp_removed"] > 0
    prob, meta_prob, final = meta.predict_with_meta(last[list(DEFAULT_FEATURES)])
    assert np.isnan(meta_prob[prob < 0.5]).all()  # the meta model judges positives only
    assert (final == ((prob >= 0.5) & (np.nan_to_num(meta_prob) >= 0.7))).all()
    # the engine's pandas-free path gives the same meta features and probabilities
    rows = last[list(DEFAULT_FEATURES)].head(50).copy()
    rows.iloc[0, 0] = np.inf  # a non-finite feature is missing on both paths
    probs = primary.predict(rows)
    frame_path = meta.meta_features(rows, probs)
    for i, (_, row) in enumerate(rows.iterrows()):
        values = meta.meta_values(row.to_dict(), float(probs[i]))
        np.testing.assert_allclose(list(values.values()), frame_path.iloc[i].to_numpy(),
                                   rtol=1e-12)  # fmt: skip
        assert list(values) == list(frame_path.columns)
        assert primary.predict_values(row.to_dict()) == pytest.approx(probs[i], rel=1e-12)
    meta.save(tmp_path)
    again = MetaLabeler.load(tmp_path, primary)
    np.testing.assert_allclose(again.predict_with_meta(last[list(DEFAULT_FEATURES)])[1], meta_prob)


def test_pipeline_cleans_inf_and_missing_columns(data: pd.DataFrame, tmp_path: Path) -> None:
    train, test = _halves(data)
    pipeline = LightGBMPipeline(tmp_path, {"num_threads": 1})
    pipeline.train(train[list(DEFAULT_FEATURES)], train["label"].to_numpy(), num_boost_round=40,
                   checkpoint_every=20)  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "iter_00020.txt", "iter_00040.txt"]  # fmt: skip
    broken = test[list(DEFAULT_FEATURES)].copy()
    broken["binance_bybit_ratio"] = np.inf
    broken = broken.drop(columns=["price_momentum"])
    prob = pipeline.predict(broken)  # inf -> missing, absent column -> missing
    assert prob.shape == (len(test),) and np.isfinite(prob).all()
    importance = pipeline.get_feature_importance()
    assert set(importance["feature"]) == set(DEFAULT_FEATURES)
    assert importance["gain"].is_monotonic_decreasing


def test_purged_cross_validation(data: pd.DataFrame) -> None:
    x, y = data[list(DEFAULT_FEATURES)], data["label"].to_numpy()
    t0, t1 = data["ts_ms"].to_numpy(), data["t1_ms"].to_numpy()
    folds = LightGBMPipeline(params={"num_threads": 1}).cross_validate(
        x, y, t0, t1, n_splits=3, embargo_ms=10_000, num_boost_round=40)  # fmt: skip
    assert len(folds) == 3 and sum(f["test_rows"] for f in folds) == len(data)
    middle = folds[1]
    inside = (t0 >= middle["test_start"]) & (t0 < middle["test_end"])
    before = (t0 < middle["test_start"]) & (t1 >= middle["test_start"])  # labels reach in
    after = (t0 >= middle["test_end"]) & (t0 < middle["test_end"] + 10_000)  # embargo
    assert before.sum() == 5 and after.sum() == 10  # 1 s rows, 5 s labels, 10 s embargo
    assert middle["train_rows"] == len(data) - inside.sum() - before.sum() - after.sum()
    assert all(f["auc"] > 0.6 for f in folds)  # the planted lead-lag, out of fold


def test_optuna_studies_persist_in_sqlite(data: pd.DataFrame, tmp_path: Path) -> None:
    train, test = _halves(data.iloc[:2_000])
    url = storage_url("", None, tmp_path)
    assert url == f"sqlite:///{(tmp_path / 'optuna.db').resolve()}"
    args = (train[list(DEFAULT_FEATURES)], train["label"].to_numpy(),
            test[list(DEFAULT_FEATURES)], test["label"].to_numpy())  # fmt: skip
    single = HyperparameterOptimizer("t1", url, n_trials=3, base_params=ONE_THREAD)
    best = single.optimize_lightgbm(*args, metric="roc_auc", num_boost_round=30)
    assert "is_unbalance" not in best and 1.0 <= best["scale_pos_weight"] <= 20.0
    assert single.get_study_summary()["trials"] == 3
    assert single.plot_optimization_history(tmp_path / "h.png").stat().st_size > 0
    resumed = HyperparameterOptimizer("t1", url, n_trials=1, base_params=ONE_THREAD)
    resumed.optimize_lightgbm(*args, num_boost_round=40)
    assert resumed.get_study_summary()["trials"] == 4  # the stored study went on
    multi = MultiObjectiveOptimizer("t2", url, n_trials=3, base_params=ONE_THREAD)
    front = multi.optimize_precision_recall(*args, num_boost_round=40)
    assert front and all(0 <= p["precision"] <= 1 and 0 <= p["recall"] <= 1 for p in front)
    assert multi.plot_pareto_front(tmp_path / "p.png").stat().st_size > 0


def test_storage_url_prefers_explicit_then_database() -> None:
    assert storage_url("sqlite:///x.db", "postgresql://u@h/d", Path(".")) == "sqlite:///x.db"
    assert storage_url("", "postgresql://u:p@h:5432/d", Path(".")) == (
        "postgresql+psycopg://u:p@h:5432/d")  # fmt: skip


def test_planner_barriers_apply_exitbrain_multipliers() -> None:
    frame = pd.DataFrame({"volatility_factor": [1.0, 2.0], "exchange_divergence": [0.0, 0.05],
                          "funding_delta": [0.0, 0.25], "num_exchanges": [3, 3]})  # fmt: skip
    tp, sl = planner_barriers(frame, base_tp_pct=0.5, base_sl_pct=0.2, params=ExitParams())
    # row 0: neutral -> 0.5 % and 0.2 %; row 1: tp x (1 + 0.8 * 0.25) = 1.2, sl x (1 + 0.4 *
    # 0.05) = 1.02; percent -> bps
    np.testing.assert_allclose(tp, [50.0, 60.0])
    np.testing.assert_allclose(sl, [20.0, 20.4])
    floor_tp, floor_sl = planner_barriers(frame, 0.1, 0.1, ExitParams())
    np.testing.assert_allclose(floor_tp, [30.0, 30.0])  # min_tp_pct 0.3 %
    np.testing.assert_allclose(floor_sl, [15.0, 15.0])  # min_sl_pct 0.15 %


def test_signal_schema_round_trip_and_refusals() -> None:
    record = SignalRecord(symbol="BTCUSDT", ts_ms=1_767_225_600_123, probability=0.73,
                          threshold=0.5, model_version="v0002", burst_confirmed=True,
                          burst_score=3.4, decision=True, meta_probability=0.81,
                          meta_decision=True)  # fmt: skip
    fields = SIGNALS.encode(record)
    assert fields["timestamp"] == "1767225600.123" and fields["meta_decision"] == "true"
    assert SIGNALS.decode(fields) == record
    from microservices.common.errors import SchemaError

    for bad in ({"probability": "1.5"}, {"model_version": ""}, {"meta_decision": None}):
        broken = {**fields, **bad}
        broken = {k: v for k, v in broken.items() if v is not None}
        with pytest.raises(SchemaError):
            SIGNALS.decode(broken)
