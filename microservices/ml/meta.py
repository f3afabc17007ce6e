"""MetaLabeler (seed 003): a secondary model trained on the primary model's positives that
learns which of them are right, so only confirmed positives are acted on.

Meta features: the primary probability, its confidence (distance from the threshold), the
row's z-scored top primary features (by gain), their mean and std, and each of them crossed
with the probability. Trained on out-of-sample primary probabilities (walk-forward
predictions), never on the primary's own training rows, whose probabilities are too sure.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from microservices.ml.pipeline import LightGBMPipeline, clean_matrix

META_PARAMS: dict[str, Any] = {"scale_pos_weight": 1.0, "num_leaves": 15, "min_data_in_leaf": 50}


@dataclass(frozen=True, slots=True)
class MetaLabelingConfig:
    primary_threshold: float = 0.5
    meta_threshold: float = 0.7
    top_features: int = 5
    valid_fraction: float = 0.2

    def __post_init__(self) -> None:
        ok = 0 < self.primary_threshold < 1 and 0 < self.meta_threshold < 1
        if not ok or self.top_features < 1:
            raise ValueError("thresholds must be in (0, 1) and top_features >= 1")


class MetaLabeler:
    def __init__(self, primary: LightGBMPipeline, config: MetaLabelingConfig | None = None):
        self.primary = primary
        self.config = config or MetaLabelingConfig()
        self.model = LightGBMPipeline(params=META_PARAMS)
        self.top: list[str] = []
        self.center: dict[str, float] = {}
        self.scale: dict[str, float] = {}

    def meta_features(self, x: pd.DataFrame, prob: np.ndarray) -> pd.DataFrame:
        z = clean_matrix(x, self.top)
        for name in self.top:
            z[name] = (z[name] - self.center[name]) / self.scale[name]
        out = pd.DataFrame(index=x.index)
        out["primary_prob"] = prob
        out["confidence"] = prob - self.config.primary_threshold
        out["feature_mean"] = z.mean(axis=1)
        out["feature_std"] = z.std(axis=1, ddof=0)
        for name in self.top:
            out[f"z_{name}"] = z[name]
            out[f"x_{name}"] = z[name] * prob
        return out

    def meta_values(self, values: Mapping[str, float], prob: float) -> dict[str, float]:
        """`meta_features` of one row, by name, without pandas (the engine's path)."""
        z: dict[str, float] = {}
        for name in self.top:
            value = values.get(name, math.nan)
            value = value if math.isfinite(value) else math.nan
            z[name] = (value - self.center[name]) / self.scale[name]
        present = [v for v in z.values() if not math.isnan(v)]
        mean = sum(present) / len(present) if present else math.nan
        spread = (
            math.sqrt(sum((v - mean) ** 2 for v in present) / len(present)) if present else math.nan
        )
        out = {"primary_prob": prob, "confidence": prob - self.config.primary_threshold,
               "feature_mean": mean, "feature_std": spread}  # fmt: skip
        for name in self.top:
            out[f"z_{name}"] = z[name]
            out[f"x_{name}"] = z[name] * prob
        return out

    def train_meta_model(
        self, x: pd.DataFrame, y: np.ndarray, prob: np.ndarray | None = None
    ) -> dict[str, Any]:
        """Fit on the rows the primary calls positive (prob from `primary` when not given);
        rows are taken in time order, the last valid_fraction is the early-stopping set."""
        prob = self.primary.predict(x) if prob is None else prob
        importance = self.primary.get_feature_importance()
        self.top = importance["feature"].head(self.config.top_features).tolist()
        matrix = clean_matrix(x, self.top)
        self.center = {n: float(np.nanmean(matrix[n])) if matrix[n].notna().any() else 0.0
                       for n in self.top}  # fmt: skip
        self.scale = {n: float(np.nanstd(matrix[n])) or 1.0 if matrix[n].notna().any() else 1.0
                      for n in self.top}  # fmt: skip
        positive = prob >= self.config.primary_threshold
        features = self.meta_features(x[positive], prob[positive])
        target = y[positive]
        cut = int(len(target) * (1 - self.config.valid_fraction))
        metrics = self.model.train(features.iloc[:cut], target[:cut], features.iloc[cut:],
                                   target[cut:], num_boost_round=300,
                                   early_stopping_rounds=30)  # fmt: skip
        return {**metrics, "primary_positives": int(positive.sum())}

    def predict_with_meta(
        self, x: pd.DataFrame, prob: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(primary_prob, meta_prob, final): meta_prob is NaN where the primary says no;
        final is 1 where the primary says yes and meta_prob >= meta_threshold."""
        prob = self.primary.predict(x) if prob is None else prob
        positive = prob >= self.config.primary_threshold
        meta = np.full(len(prob), np.nan)
        if positive.any():
            meta[positive] = self.model.predict(self.meta_features(x[positive], prob[positive]))
        final = (positive & (np.nan_to_num(meta) >= self.config.meta_threshold)).astype(int)
        return prob, meta, final

    def evaluate_meta_system(
        self, x: pd.DataFrame, y: np.ndarray, prob: np.ndarray | None = None
    ) -> dict[str, float]:
        """What the meta model changes: false positives removed and the recall it costs."""
        prob, _, final = self.predict_with_meta(x, prob)
        primary = (prob >= self.config.primary_threshold).astype(int)
        return compare_decisions(y.astype(int), primary, final)

    def save(self, folder: Path) -> None:
        self.model.save(folder)
        state = {"config": asdict(self.config), "top": self.top, "center": self.center,
                 "scale": self.scale}  # fmt: skip
        (folder / "meta.json").write_text(json.dumps(state, indent=2))

    @classmethod
    def load(cls, folder: Path, primary: LightGBMPipeline) -> MetaLabeler:
        state = json.loads((folder / "meta.json").read_text())
        labeler = cls(primary, MetaLabelingConfig(**state["config"]))
        labeler.model = LightGBMPipeline.load(folder)
        labeler.top, labeler.center, labeler.scale = state["top"], state["center"], state["scale"]
        return labeler


def compare_decisions(y: np.ndarray, primary: np.ndarray, final: np.ndarray) -> dict[str, float]:
    def counts(pred: np.ndarray) -> tuple[int, int]:
        return int(((pred == 1) & (y == 1)).sum()), int(((pred == 1) & (y == 0)).sum())

    tp0, fp0 = counts(primary)
    tp1, fp1 = counts(final)
    positives = max(int(y.sum()), 1)
    return {
        "primary_tp": tp0, "primary_fp": fp0, "meta_tp": tp1, "meta_fp": fp1,
        "fp_removed": fp0 - fp1, "fp_removed_pct": 100.0 * (fp0 - fp1) / fp0 if fp0 else 0.0,
        "primary_precision": tp0 / (tp0 + fp0) if tp0 + fp0 else 0.0,
        "meta_precision": tp1 / (tp1 + fp1) if tp1 + fp1 else 0.0,
        "primary_recall": tp0 / positives, "meta_recall": tp1 / positives,
        "recall_cost": (tp0 - tp1) / positives,
    }  # fmt: skip
