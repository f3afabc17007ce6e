"""WalkForwardOptimizer (seed 003): sliding or expanding train windows, a model per window,
purged training rows, per-window metrics, window_results.csv and the files of the report.

Window sizes are durations in ms (the seed's 30 / 7 days are options; demo data spans hours).
A window's training rows are the rows of its train span that `purge_mask` keeps for its test
window; the last `valid_fraction` of the train span is the early-stopping set, and fit rows
whose labels reach into it are purged too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from microservices.ml.dataset import purge_mask
from microservices.ml.metrics import window_metrics
from microservices.ml.pipeline import LightGBMPipeline

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Window:
    index: int
    train_start: int
    train_end: int  # exclusive; = test_start
    test_start: int
    test_end: int  # exclusive


@dataclass(frozen=True, slots=True)
class WalkForwardConfig:
    train_ms: int = 30 * DAY_MS
    test_ms: int = 7 * DAY_MS
    step_ms: int | None = None  # None: test_ms (test windows tile the timeline)
    expanding: bool = False
    embargo_ms: int = 0
    valid_fraction: float = 0.2
    threshold: float = 0.5
    num_boost_round: int = 1000
    early_stopping_rounds: int = 50

    def __post_init__(self) -> None:
        if self.train_ms <= 0 or self.test_ms <= 0 or (self.step_ms or 1) <= 0:
            raise ValueError("window sizes must be > 0")
        if not 0.0 <= self.valid_fraction < 0.9 or not 0.0 < self.threshold < 1.0:
            raise ValueError("valid_fraction must be in [0, 0.9) and threshold in (0, 1)")


def create_windows(ts_ms: np.ndarray, config: WalkForwardConfig) -> list[Window]:
    """Windows over [min ts, max ts]; a last, partial test window is kept only when the
    data cover at least half of it."""
    if len(ts_ms) == 0:
        return []
    first, last = int(ts_ms.min()), int(ts_ms.max())
    step = config.step_ms or config.test_ms
    out: list[Window] = []
    test_start = first + config.train_ms
    while test_start + config.test_ms // 2 <= last:
        train_start = first if config.expanding else test_start - config.train_ms
        out.append(Window(len(out), train_start, test_start, test_start,
                          test_start + config.test_ms))  # fmt: skip
        test_start += step
    return out


def _train_sets(
    data: pd.DataFrame, window: Window, config: WalkForwardConfig
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    t0, t1 = data["ts_ms"].to_numpy(), data["t1_ms"].to_numpy()
    in_train = (t0 >= window.train_start) & (t0 < window.train_end)
    keep = in_train & purge_mask(t0, t1, window.test_start, window.test_end, config.embargo_ms)
    if config.valid_fraction <= 0:
        return data[keep], None
    span = window.train_end - window.train_start
    valid_start = window.train_end - int(span * config.valid_fraction)
    valid = keep & (t0 >= valid_start)
    fit = keep & (t0 < valid_start) & purge_mask(t0, t1, valid_start, window.train_end, 0)
    return data[fit], data[valid]


class WalkForwardOptimizer:
    def __init__(
        self,
        config: WalkForwardConfig,
        results_dir: Path | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.results_dir = results_dir
        self.params = params
        self.results: pd.DataFrame = pd.DataFrame()
        self.predictions: pd.DataFrame = pd.DataFrame()
        self.importances: pd.DataFrame = pd.DataFrame()

    def run_optimization(self, data: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
        """Train and test every window with enough rows and both classes; returns (and
        writes, with a results_dir) the per-window metrics."""
        rows, preds, imps = [], [], []
        for window in create_windows(data["ts_ms"].to_numpy(), self.config):
            outcome = self._run_window(data, features, window)
            if outcome is None:
                continue
            rows.append(outcome[0])
            preds.append(outcome[1])
            imps.append(outcome[2])
        self.results = pd.DataFrame(rows)
        self.predictions = pd.concat(preds, ignore_index=True) if preds else pd.DataFrame()
        self.importances = pd.concat(imps, ignore_index=True) if imps else pd.DataFrame()
        if self.results_dir is not None:
            self.write(self.results_dir)
        return self.results

    def _run_window(
        self, data: pd.DataFrame, features: Sequence[str], window: Window
    ) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame] | None:
        fit, valid = _train_sets(data, window, self.config)
        t0 = data["ts_ms"].to_numpy()
        test = data[(t0 >= window.test_start) & (t0 < window.test_end)]
        if len(test) == 0 or fit["label"].nunique() < 2:
            return None
        pipeline = LightGBMPipeline(params=self.params)
        x_valid = None if valid is None else valid[list(features)]
        y_valid = None if valid is None else valid["label"].to_numpy()
        pipeline.train(fit[list(features)], fit["label"].to_numpy(), x_valid, y_valid,
                       self.config.num_boost_round, self.config.early_stopping_rounds)  # fmt: skip
        prob = pipeline.predict(test[list(features)])
        y = test["label"].to_numpy()
        metrics = window_metrics(y, prob, test["ret_bps"].to_numpy(),
                                 test["cost_bps"].to_numpy(), self.config.threshold)  # fmt: skip
        row = {"window": window.index, "train_start": window.train_start,
               "train_end": window.train_end, "test_start": window.test_start,
               "test_end": window.test_end, "train_rows": len(fit), "test_rows": len(test),
               "best_iteration": pipeline.metrics["best_iteration"], **metrics}  # fmt: skip
        pred = test[["symbol", "ts_ms", "t1_ms", "label", "ret_bps", "cost_bps"]].copy()
        pred["prob"], pred["window"], pred["row"] = prob, window.index, test.index
        imp = pipeline.get_feature_importance().assign(window=window.index)
        return row, pred, imp

    def get_aggregate_metrics(self) -> dict[str, float]:
        """Means and stds over windows, and the pooled AUC of all test predictions."""
        from microservices.ml.metrics import classification_metrics

        out: dict[str, float] = {"windows": float(len(self.results))}
        if self.results.empty:
            return out
        for name in ("auc", "log_loss", "precision", "recall", "hit_rate", "mean_net_bps"):
            col = self.results[name].astype(float)
            out[f"mean_{name}"], out[f"std_{name}"] = float(col.mean()), float(col.std(ddof=0))
        out["total_net_bps"] = float(self.results["total_net_bps"].sum())
        out["trades"] = float(self.results["trades"].sum())
        pooled = classification_metrics(self.predictions["label"].to_numpy(),
                                        self.predictions["prob"].to_numpy(),
                                        self.config.threshold)  # fmt: skip
        out["pooled_auc"] = pooled["auc"]
        return out

    def get_feature_stability(self) -> pd.DataFrame:
        """Per feature: mean and std of its gain share across windows, highest mean first."""
        if self.importances.empty:
            return pd.DataFrame(columns=["feature", "mean_share", "std_share", "windows"])
        imp = self.importances.copy()
        totals = imp.groupby("window")["gain"].transform("sum").replace(0, math.nan)
        imp["share"] = imp["gain"] / totals
        out = imp.groupby("feature")["share"].agg(["mean", "std", "count"]).reset_index()
        out.columns = ["feature", "mean_share", "std_share", "windows"]
        return out.sort_values("mean_share", ascending=False, ignore_index=True)

    def write(self, folder: Path) -> None:
        """window_results.csv, all_predictions.csv, feature_stability.csv,
        aggregate_metrics.json."""
        folder.mkdir(parents=True, exist_ok=True)
        self.results.to_csv(folder / "window_results.csv", index=False)
        self.predictions.to_csv(folder / "all_predictions.csv", index=False)
        self.get_feature_stability().to_csv(folder / "feature_stability.csv", index=False)
        text = json.dumps(self.get_aggregate_metrics(), indent=2, default=float)
        (folder / "aggregate_metrics.json").write_text(text)
