"""Argument parsers of the ML commands (`train`, `evaluate`, `tune`, `model`,
`export-features`); the commands import lightgbm & co only when they run."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from microservices.common.clock import parse_iso_ms

DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def duration_ms(text: str) -> int:
    """'90s', '30m', '2h', '7d', '250ms' -> milliseconds (> 0)."""
    match = DURATION_RE.match(text.strip())
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"not a duration like 30m, 2h or 7d: {text!r}")
    return int(float(match.group(1)) * UNIT_MS[match.group(2)])


def time_ms(text: str) -> int:
    try:
        return parse_iso_ms(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO time like 2026-01-01T00:00Z: {text!r}"
        ) from None


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse


def _data_args(p: argparse.ArgumentParser) -> None:
    src = p.add_argument_group(
        "data (default: the PostgreSQL `features` table of DATABASE_URL, else of the private "
        "cluster `cross-exchange run` keeps in PG_DATA_DIR)"
    )
    src.add_argument(
        "--demo", action="store_true", help="private cluster: the database of `run --demo`"
    )
    src.add_argument(
        "--generated",
        action="store_true",
        help="synthetic venues driven through the aggregator and feature engine",
    )
    src.add_argument(
        "--rows", type=_positive(int), default=20_000, help="--generated: feature rows (1 s apart)"
    )
    src.add_argument(
        "--lag-steps",
        type=int,
        default=5,
        help="--generated: seconds the leader venue is ahead (0: pure noise)",
    )
    src.add_argument("--seed", type=int, default=7, help="--generated: random seed")
    src.add_argument(
        "--parquet", metavar="FILE", help="features exported by `cross-exchange export-features`"
    )
    src.add_argument("--symbol", action="append", help="only these symbols (repeatable)")
    src.add_argument("--start", type=time_ms, help="first feature time, ISO 8601")
    src.add_argument("--end", type=time_ms, help="features before this time, ISO 8601")
    src.add_argument(
        "--features",
        help="comma-separated feature columns (default: all but price levels and calendar)",
    )
    lab = p.add_argument_group("labels")
    lab.add_argument(
        "--label",
        choices=["triple_barrier", "sign"],
        default="triple_barrier",
        help="TP before SL within the horizon, or forward return > 0",
    )
    lab.add_argument(
        "--horizon",
        type=duration_ms,
        default=60_000,
        metavar="DURATION",
        help="time barrier, e.g. 60s, 5m",
    )
    lab.add_argument(
        "--barriers",
        choices=["fixed", "planner"],
        default="fixed",
        help="fixed bps, or ExitBrain's TP/SL distances with each row's multipliers",
    )
    lab.add_argument(
        "--tp-bps", type=_positive(float), default=10.0, help="fixed take-profit barrier"
    )
    lab.add_argument(
        "--sl-bps", type=_positive(float), default=10.0, help="fixed stop-loss barrier"
    )
    lab.add_argument(
        "--base-tp-pct",
        type=_positive(float),
        default=0.3,
        help="planner: base TP distance, %% of entry",
    )
    lab.add_argument(
        "--base-sl-pct",
        type=_positive(float),
        default=0.15,
        help="planner: base SL distance, %% of entry",
    )
    lab.add_argument(
        "--threshold", type=float, default=None, help="probability threshold (default ML_THRESHOLD)"
    )
    lab.add_argument(
        "--rounds",
        type=_positive(int),
        default=1000,
        help="max boosting rounds (early stopping after 50 without gain)",
    )


def _add_train(sub: Any, run: Any) -> None:
    train = sub.add_parser(
        "train", help="walk-forward evaluation, then a model + report in the registry"
    )
    _data_args(train)
    wf = train.add_argument_group("walk-forward")
    wf.add_argument(
        "--train-window",
        type=duration_ms,
        help="default 30d, or half the data's span when it is shorter",
    )
    wf.add_argument("--test-window", type=duration_ms, help="default 7d, or a tenth of the span")
    wf.add_argument("--step", type=duration_ms, help="default: the test window")
    wf.add_argument("--expanding", action="store_true", help="train windows grow from the start")
    wf.add_argument(
        "--embargo", type=duration_ms, help="after each test window (default: the horizon)"
    )
    train.add_argument(
        "--params", metavar="FILE", help="LightGBM parameters (JSON), e.g. tune's best_params.json"
    )
    train.add_argument("--no-meta", action="store_true", help="no meta-labeling model")
    train.add_argument("--promote", action="store_true", help="make the new model current")
    train.set_defaults(func=run("training", "run_train"))


def add_ml_commands(sub: Any) -> None:
    """Register the ML subcommands on the `cross-exchange` subparsers."""
    _add_train(sub, _runner)
    ev = sub.add_parser("evaluate", help="score a registered model on a data source")
    _data_args(ev)
    ev.add_argument("--version", help="model version (default: current)")
    ev.add_argument(
        "--name", default="latest", help="evaluation-NAME.json in the version directory"
    )
    ev.set_defaults(func=_runner("commands", "run_evaluate"))
    tune = sub.add_parser(
        "tune", help="Optuna search (TPE, median pruning) over LightGBM parameters"
    )
    _data_args(tune)
    tune.add_argument(
        "--trials", type=_positive(int), default=50, help="trials to run (a study resumes)"
    )
    tune.add_argument("--study", default="lightgbm", help="study name (ML_MODEL_DIR/tuning/NAME)")
    tune.add_argument(
        "--metric",
        choices=["roc_auc", "f1", "precision", "recall"],
        default="roc_auc",
        help="objective",
    )
    tune.add_argument("--multi", action="store_true", help="precision/recall Pareto front instead")
    tune.set_defaults(func=_runner("commands", "run_tune"))
    model = sub.add_parser("model", help="the model registry: list, promote VERSION")
    msub = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    msub.add_parser("list", help="versions, * marks current")
    promote = msub.add_parser("promote", help="make VERSION the engine's current model")
    promote.add_argument("version", help="e.g. v0003")
    model.set_defaults(func=_runner("commands", "run_model"))
    exp = sub.add_parser(
        "export-features", help="exchange.features (Redis) -> Parquet for training"
    )
    exp.add_argument("--out", required=True, help="output .parquet file")
    exp.add_argument("--symbol", action="append", help="only these symbols (repeatable)")
    exp.set_defaults(func=_runner("commands", "run_export"))


def _runner(module: str, name: str) -> Any:
    def run(ns: argparse.Namespace, settings: Any) -> int:
        import importlib

        command = getattr(importlib.import_module(f"microservices.ml.{module}"), name)
        return int(command(ns, settings, sys.stdout))

    return run
