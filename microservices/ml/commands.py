"""`cross-exchange evaluate | tune | model list | model promote | export-features`."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from microservices.common.errors import FatalError
from microservices.common.settings import Settings
from microservices.ml.dataset import purge_mask
from microservices.ml.meta import MetaLabeler
from microservices.ml.metrics import window_metrics
from microservices.ml.pipeline import LightGBMPipeline
from microservices.ml.registry import ModelRegistry, ModelVersion
from microservices.ml.training import prepare, threshold_of
from microservices.ml.tuning import (
    HyperparameterOptimizer,
    MultiObjectiveOptimizer,
    storage_url,
    write_json,
)

logger = logging.getLogger(__name__)


def _version(registry: ModelRegistry, name: str | None) -> ModelVersion:
    try:
        if name:
            return registry.get(name)
    except KeyError as exc:
        raise FatalError(str(exc.args[0])) from None
    current = registry.current()
    if current is None:
        raise FatalError(f"no promoted model in {registry.root}: pass --version")
    return current


def run_evaluate(ns: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Score a registered model (default: current) on a data source; evaluation.json."""
    registry = ModelRegistry(Path(settings.ml_model_dir))
    version = _version(registry, ns.version)
    prep = prepare(ns, settings)
    primary = LightGBMPipeline.load(version.path)
    threshold = threshold_of(ns, settings)
    data = prep.data
    prob = primary.predict(data[primary.feature_names])
    result: dict[str, Any] = window_metrics(
        data["label"].to_numpy(), prob, data["ret_bps"].to_numpy(), data["cost_bps"].to_numpy(),
        threshold,
    )  # fmt: skip
    if (version.path / "meta" / "meta.json").is_file():
        meta = MetaLabeler.load(version.path / "meta", primary)
        result["meta"] = meta.evaluate_meta_system(data, data["label"].to_numpy(), prob)
    result.update(version=version.name, source=prep.source, rows=len(data))
    path = version.path / f"evaluation-{ns.name}.json"
    write_json(path, result)
    for key in ("auc", "log_loss", "precision", "recall", "trades", "hit_rate", "mean_net_bps"):
        print(f"{key}: {result[key]:.4g}", file=out)
    print(f"written: {path}", file=out)
    return 0


def _split(data: pd.DataFrame, features: list[str]) -> tuple[Any, ...]:
    """First 70 % of time trains, the rest validates; labels reaching it are purged."""
    t0, t1 = data["ts_ms"].to_numpy(), data["t1_ms"].to_numpy()
    cut = int(t0.min() + 0.7 * (t0.max() - t0.min()))
    fit = (t0 < cut) & purge_mask(t0, t1, cut, int(t0.max()) + 1, 0)
    val = t0 >= cut
    return (data.loc[fit, features], data.loc[fit, "label"].to_numpy(),
            data.loc[val, features], data.loc[val, "label"].to_numpy())  # fmt: skip


def run_tune(ns: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    prep = prepare(ns, settings)
    model_dir = Path(settings.ml_model_dir)
    url = storage_url(settings.ml_optuna_storage, getattr(settings, "database_url", None),
                      model_dir)  # fmt: skip
    folder = model_dir / "tuning" / ns.study
    folder.mkdir(parents=True, exist_ok=True)
    x_train, y_train, x_val, y_val = _split(prep.data, prep.features)
    if ns.multi:
        multi = MultiObjectiveOptimizer(ns.study, url, ns.trials, threshold_of(ns, settings))
        front = multi.optimize_precision_recall(x_train, y_train, x_val, y_val, ns.rounds)
        write_json(folder / "pareto_front.json", front)
        plot = multi.plot_pareto_front(folder / "pareto_front.png")
        print(f"Pareto front: {len(front)} trials; {plot}", file=out)
        return 0
    single = HyperparameterOptimizer(ns.study, url, n_trials=ns.trials)
    best = single.optimize_lightgbm(x_train, y_train, x_val, y_val, ns.metric, ns.rounds)
    write_json(folder / "best_params.json", best)
    summary = single.get_study_summary()
    write_json(folder / "summary.json", summary)
    plot = single.plot_optimization_history(folder / "optimization_history.png")
    print(f"study {ns.study}: {summary['trials']} trials ({summary['pruned']} pruned), "
          f"best {ns.metric} {summary['best_value']:.4f}", file=out)  # fmt: skip
    print(f"best params: {folder / 'best_params.json'} (train --params uses it); {plot}",
          file=out)  # fmt: skip
    return 0


def run_model(ns: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    registry = ModelRegistry(Path(settings.ml_model_dir))
    if ns.model_command == "promote":
        try:
            version = registry.promote(ns.version)
        except KeyError as exc:
            raise FatalError(str(exc.args[0])) from None
        print(f"current -> {version.name}", file=out)
        return 0
    current = registry.current_name()
    for version in registry.list():
        wf = version.metadata.get("walk_forward", {})
        window = version.metadata.get("training_window", {})
        mark = "*" if version.name == current else " "
        print(f"{mark} {version.name}  {version.metadata.get('created_at', '?')}  "
              f"rows={window.get('rows', '?')}  pooled_auc={wf.get('pooled_auc', float('nan')):.3f}"
              f"  {version.metadata.get('code_version', '?')}", file=out)  # fmt: skip
    return 0


def run_export(ns: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """exchange.features (what Redis still holds) -> one Parquet file."""
    if settings.redis_url is None:
        raise FatalError("REDIS_URL is required to read exchange.features")
    frame = asyncio.run(_read_features(settings, ns.symbol or None))
    if frame.empty:
        raise FatalError("exchange.features holds no entries (for these symbols)")
    frame.to_parquet(ns.out, index=False)
    print(f"{len(frame)} rows, {frame['symbol'].nunique()} symbols -> {ns.out}", file=out)
    return 0


async def _read_features(settings: Settings, symbols: list[str] | None) -> pd.DataFrame:
    """Every entry of exchange.features (of the symbols' home shards when symbols are given;
    every shard otherwise), in time order across shards."""
    from microservices.common.redis_io import create_redis

    assert settings.redis_url is not None
    stream = settings.streams().features
    redis = create_redis(settings.redis_url, cluster=settings.redis_cluster)
    rows: list[dict[str, Any]] = []
    bad = 0
    wanted = {s.upper() for s in symbols} if symbols else None
    shards = stream.shards_all()
    if wanted is not None:
        homes = {stream.shard_for(symbol).name: stream.shard_for(symbol) for symbol in wanted}
        shards = [homes[name] for name in sorted(homes)]
    try:
        for shard in shards:
            bad += await _read_shard(redis, shard, wanted, rows)
    finally:
        await redis.aclose()
    if bad:
        logger.warning("export_skipped", extra={"undecodable": bad})
    frame = pd.DataFrame(rows)
    if len(shards) > 1 and not frame.empty:
        frame = frame.sort_values("ts_ms", kind="stable", ignore_index=True)
    return frame


async def _read_shard(
    redis: Any, stream: Any, wanted: set[str] | None, rows: list[dict[str, Any]]
) -> int:
    """Append one shard's wanted vectors to `rows`; the entries that did not decode."""
    from microservices.common.errors import SchemaError
    from microservices.common.schema_fields import normalize_entry

    bad, lower = 0, "-"
    while True:
        batch: Any = await redis.xrange(stream.name, lower, "+", count=5_000)
        for _, fields in batch:
            try:
                vector = stream.schema.decode(normalize_entry(fields))
            except SchemaError:
                bad += 1
                continue
            if wanted is None or vector.symbol in wanted:
                rows.append({"symbol": vector.symbol, "ts_ms": vector.ts_ms, **vector.values})
        if len(batch) < 5_000:
            return bad
        last = batch[-1][0]
        lower = "(" + (last.decode() if isinstance(last, bytes) else last)
