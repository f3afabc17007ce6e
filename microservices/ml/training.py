"""`cross-exchange train | evaluate | tune`: the shells around the pure ML modules.

Each command loads features from one source (generated, Parquet, PostgreSQL), builds the
labelled dataset and writes its results under ML_MODEL_DIR. Printing is the command's
output; nothing here runs in the engine.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from microservices.common.clock import iso_utc, now_ms
from microservices.common.errors import FatalError
from microservices.common.settings import Settings
from microservices.ml.dataset import DEFAULT_FEATURES, LabelConfig, build_dataset, purge_mask
from microservices.ml.generator import GeneratorConfig
from microservices.ml.meta import MetaLabeler, MetaLabelingConfig
from microservices.ml.pipeline import LightGBMPipeline
from microservices.ml.registry import ModelRegistry, code_version
from microservices.ml.report import write_report
from microservices.ml.sources import (
    FeatureSource,
    GeneratedSource,
    ParquetSource,
    PostgresSource,
    PrivatePostgresSource,
)
from microservices.ml.walk_forward import DAY_MS, WalkForwardConfig, WalkForwardOptimizer

logger = logging.getLogger(__name__)
MIN_ROWS = 200


@dataclass(frozen=True, slots=True)
class Prepared:
    data: pd.DataFrame
    features: list[str]
    label: LabelConfig
    source: str


def source_of(ns: argparse.Namespace, settings: Settings) -> tuple[FeatureSource, str]:
    if ns.generated:
        config = GeneratorConfig(rows=ns.rows, lag_steps=ns.lag_steps, seed=ns.seed)
        return GeneratedSource(config), f"generated(rows={ns.rows}, lag={ns.lag_steps})"
    if ns.parquet:
        return ParquetSource(Path(ns.parquet)), f"parquet:{ns.parquet}"
    url = settings.database_url
    if url:
        return PostgresSource(url), "postgresql:features"
    from microservices.storage.embedded import DEMO_DATABASE

    database = DEMO_DATABASE if ns.demo else "ce"
    source = PrivatePostgresSource(Path(settings.pg_data_dir), database)
    return source, f"postgresql:{settings.pg_data_dir}/{database}:features"


def label_config(ns: argparse.Namespace, settings: Settings) -> LabelConfig:
    return LabelConfig(
        kind=ns.label, horizon_ms=ns.horizon, barriers=ns.barriers, tp_bps=ns.tp_bps,
        sl_bps=ns.sl_bps, base_tp_pct=ns.base_tp_pct, base_sl_pct=ns.base_sl_pct,
        cost_bps=settings.ml_cost_bps,
    )  # fmt: skip


def prepare(ns: argparse.Namespace, settings: Settings) -> Prepared:
    source, name = source_of(ns, settings)
    try:
        frame = source.load(ns.symbol or None, ns.start, ns.end)
    except (OSError, ValueError) as exc:
        raise FatalError(f"cannot load features from {name}: {exc}") from None
    label = label_config(ns, settings)
    data = build_dataset(frame, label)
    if len(data) < MIN_ROWS or data["label"].nunique() < 2:
        raise FatalError(f"{name}: {len(data)} labelled rows, need {MIN_ROWS} with both classes")
    wanted = ns.features.split(",") if ns.features else list(DEFAULT_FEATURES)
    features = [f for f in wanted if f in data.columns]
    if not features:
        raise FatalError("none of the requested features is in the data")
    return Prepared(data, features, label, name)


def walk_forward_config(
    ns: argparse.Namespace, data: pd.DataFrame, threshold: float
) -> WalkForwardConfig:
    """Seed sizes (30 d / 7 d) unless given; data spanning less gets 50 % / 10 % of its span."""
    span = int(data["ts_ms"].max() - data["ts_ms"].min())
    train, test = ns.train_window, ns.test_window
    if train is None or test is None:
        seed = (30 * DAY_MS, 7 * DAY_MS)
        fits = span >= seed[0] + seed[1]
        train = train or (seed[0] if fits else span // 2)
        test = test or (seed[1] if fits else max(span // 10, 1))
    embargo = ns.embargo if ns.embargo is not None else ns.horizon
    return WalkForwardConfig(train_ms=train, test_ms=test, step_ms=ns.step,
                             expanding=ns.expanding, embargo_ms=embargo,
                             threshold=threshold, num_boost_round=ns.rounds)  # fmt: skip


def threshold_of(ns: argparse.Namespace, settings: Settings) -> float:
    return float(ns.threshold if ns.threshold is not None else settings.ml_threshold)


def _fit_final(prep: Prepared, params: dict[str, Any] | None, rounds: int) -> LightGBMPipeline:
    """The served model: all rows, the last 20 % of time for early stopping (purged)."""
    data = prep.data
    t0, t1 = data["ts_ms"].to_numpy(), data["t1_ms"].to_numpy()
    cut = int(t0.min() + 0.8 * (t0.max() - t0.min()))
    fit = (t0 < cut) & purge_mask(t0, t1, cut, int(t0.max()) + 1, 0)
    pipeline = LightGBMPipeline(params=params)
    pipeline.train(data.loc[fit, prep.features], data.loc[fit, "label"].to_numpy(),
                   data.loc[t0 >= cut, prep.features], data.loc[t0 >= cut, "label"].to_numpy(),
                   num_boost_round=rounds)  # fmt: skip
    return pipeline


def _fit_meta(
    prep: Prepared, primary: LightGBMPipeline, oos: pd.DataFrame, config: MetaLabelingConfig
) -> tuple[MetaLabeler | None, dict[str, float] | None]:
    """Meta model on the first 70 % of the walk-forward predictions, judged on the rest."""
    if len(oos) < MIN_ROWS:
        return None, None
    oos = oos.sort_values("ts_ms")
    cut = int(len(oos) * 0.7)
    x = prep.data.loc[oos["row"].to_numpy(), prep.features]
    y, prob = oos["label"].to_numpy(), oos["prob"].to_numpy()
    labeler = MetaLabeler(primary, config)
    positives = prob[:cut] >= config.primary_threshold
    if len(np.unique(y[:cut][positives])) < 2:
        return None, None
    labeler.train_meta_model(x.iloc[:cut], y[:cut], prob[:cut])
    return labeler, labeler.evaluate_meta_system(x.iloc[cut:], y[cut:], prob[cut:])


def run_train(ns: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    prep = prepare(ns, settings)
    params = read_params(ns.params)
    threshold = threshold_of(ns, settings)
    config = walk_forward_config(ns, prep.data, threshold)
    optimizer = WalkForwardOptimizer(config, params=params)
    optimizer.run_optimization(prep.data, prep.features)
    if optimizer.results.empty:
        raise FatalError("no walk-forward window had training rows of both classes")
    primary = _fit_final(prep, params, ns.rounds)
    meta_cfg = MetaLabelingConfig(threshold, settings.ml_meta_threshold)
    meta, meta_eval = (None, None) if ns.no_meta else _fit_meta(
        prep, primary, optimizer.predictions, meta_cfg)  # fmt: skip
    registry = ModelRegistry(Path(settings.ml_model_dir))
    version, path = registry.new_version_dir()
    primary.save(path)
    if meta is not None:
        meta.save(path / "meta")
    aggregate = optimizer.get_aggregate_metrics()
    summary = {"version": version, "source": prep.source, "rows": len(prep.data),
               "features": len(prep.features), "label": prep.label.kind,
               "horizon_ms": prep.label.horizon_ms, "train_window_ms": config.train_ms,
               "test_window_ms": config.test_ms, "expanding": config.expanding}  # fmt: skip
    report = write_report(path / "report", f"Model {version}",
                          {"summary": summary, "meta": meta_eval}, optimizer)  # fmt: skip
    registry.write_metadata(path, _metadata(prep, primary, config, aggregate, meta_eval))
    if ns.promote:
        registry.promote(version)
    print(f"model {version} in {path}", file=out)
    windows, pooled, mean = aggregate["windows"], aggregate["pooled_auc"], aggregate["mean_auc"]
    print(
        f"walk-forward: {windows:.0f} windows, pooled AUC {pooled:.3f}, mean {mean:.3f}", file=out
    )
    print(f"report: {report}", file=out)
    print("promoted: current -> " + version if ns.promote else
          f"promote with: cross-exchange model promote {version}", file=out)  # fmt: skip
    return 0


def _metadata(
    prep: Prepared,
    primary: LightGBMPipeline,
    config: WalkForwardConfig,
    aggregate: dict[str, float],
    meta_eval: dict[str, float] | None,
) -> dict[str, Any]:
    data = prep.data
    return {
        "created_at": iso_utc(now_ms()), "code_version": code_version(),
        "features": prep.features, "source": prep.source,
        "training_window": {"start": iso_utc(int(data["ts_ms"].min())),
                            "end": iso_utc(int(data["ts_ms"].max())), "rows": len(data),
                            "symbols": sorted(data["symbol"].unique().tolist())},
        "label": {"kind": prep.label.kind, "horizon_ms": prep.label.horizon_ms,
                  "barriers": prep.label.barriers, "tp_bps": prep.label.tp_bps,
                  "sl_bps": prep.label.sl_bps, "cost_bps": prep.label.cost_bps},
        "walk_forward": {"train_ms": config.train_ms, "test_ms": config.test_ms,
                         "expanding": config.expanding, "embargo_ms": config.embargo_ms,
                         "threshold": config.threshold, **aggregate},
        "params": primary.params, "train_metrics": primary.metrics,
        "meta": meta_eval, "has_meta": meta_eval is not None,
    }  # fmt: skip


def read_params(path: str | None) -> dict[str, Any] | None:
    if not path:
        return None
    import json

    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise FatalError(f"--params {path}: {exc}") from None
    if not isinstance(value, dict):
        raise FatalError(f"--params {path}: not a JSON object")
    return value
