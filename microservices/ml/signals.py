"""Scoring one feature vector with a registered model (pure once loaded; no I/O but the load).

`load_model(version)` reads the version's LightGBM primary model and, when present, its
meta-labeler (imports lightgbm). `score` turns a FeatureVector, the model and the symbol's
burst state into the `exchange.signals` record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from microservices.common.records import FeatureVector
from microservices.common.signal_schema import SignalRecord
from microservices.ml.meta import MetaLabeler
from microservices.ml.pipeline import LightGBMPipeline
from microservices.ml.registry import ModelVersion


@dataclass(frozen=True, slots=True)
class LoadedModel:
    version: str
    primary: LightGBMPipeline
    meta: MetaLabeler | None


@dataclass(frozen=True, slots=True)
class Thresholds:
    primary: float = 0.5
    meta: float = 0.7


def load_model(version: ModelVersion) -> LoadedModel:
    primary = LightGBMPipeline.load(version.path)
    meta_dir = version.path / "meta"
    meta = MetaLabeler.load(meta_dir, primary) if (meta_dir / "meta.json").is_file() else None
    return LoadedModel(version.name, primary, meta)


def score(
    model: LoadedModel,
    vector: FeatureVector,
    burst: tuple[bool, float],
    thresholds: Thresholds,
) -> SignalRecord:
    """The signal of one vector. Features the model knows but the vector lacks are missing
    values (NaN) to LightGBM; non-finite values likewise."""
    prob = min(max(model.primary.predict_values(vector.values), 0.0), 1.0)
    positive = prob >= thresholds.primary
    meta_prob: float | None = None
    meta_ok: bool | None = None
    if model.meta is not None and positive:  # the meta model judges primary positives only
        meta_row = model.meta.meta_values(vector.values, prob)
        meta_prob = min(max(model.meta.model.predict_values(meta_row), 0.0), 1.0)
        meta_ok = meta_prob >= thresholds.meta
    burst_ok, burst_score = burst
    return SignalRecord(
        symbol=vector.symbol,
        ts_ms=vector.ts_ms,
        probability=prob,
        threshold=thresholds.primary,
        model_version=model.version,
        meta_probability=meta_prob,
        meta_decision=meta_ok,
        burst_confirmed=burst_ok,
        burst_score=burst_score if math.isfinite(burst_score) else 0.0,
        decision=positive and (model.meta is None or bool(meta_ok)) and burst_ok,
    )
