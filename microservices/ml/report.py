"""Training report: report.md with PNG plots (matplotlib, Agg backend) beside the
walk-forward CSVs. Reads only what it is given; writes only into `folder`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_windows(results: pd.DataFrame, path: Path) -> None:
    """AUC / precision / recall per window, and net bps of acting on the signal per window."""
    plt = pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    for name in ("auc", "precision", "recall", "hit_rate"):
        top.plot(results["window"], results[name], marker="o", label=name)
    top.axhline(0.5, color="grey", lw=0.8, ls="--")
    top.set_ylabel("score")
    top.legend(loc="best")
    top.set_title("Walk-forward: per test window")
    bottom.bar(results["window"], results["total_net_bps"], color="tab:blue")
    bottom.axhline(0, color="grey", lw=0.8)
    bottom.set_xlabel("window")
    bottom.set_ylabel("net bps after costs (sum)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_equity(predictions: pd.DataFrame, threshold: float, path: Path) -> None:
    """Cumulative net bps of every long the signal takes, in test time order."""
    plt = pyplot()
    taken = predictions[predictions["prob"] >= threshold].sort_values("ts_ms")
    net = (taken["ret_bps"] - taken["cost_bps"]).cumsum()
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(pd.to_datetime(taken["ts_ms"], unit="ms", utc=True), net.to_numpy())
    ax.set_ylabel("cumulative net bps")
    ax.set_title(f"Acting on prob >= {threshold:g} after costs ({len(taken)} trades)")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_importance(stability: pd.DataFrame, path: Path, top: int = 15) -> None:
    plt = pyplot()
    head = stability.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(head) + 1.5))
    ax.barh(head["feature"], head["mean_share"], xerr=head["std_share"].fillna(0.0))
    ax.set_xlabel("share of gain (mean over windows, std as error bar)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


WINDOW_COLUMNS = ["window", "train_rows", "test_rows", "auc", "log_loss", "precision", "recall",
                  "trades", "hit_rate", "mean_net_bps"]  # fmt: skip


def write_report(folder: Path, title: str, sections: dict[str, Any], optimizer: Any) -> Path:
    """report.md + walk_forward_results.png, equity.png, feature_importance.png.

    `sections` holds `summary` (key -> value), optionally `meta` (compare_decisions output);
    `optimizer` is the WalkForwardOptimizer that ran (its CSVs are written here too)."""
    folder.mkdir(parents=True, exist_ok=True)
    optimizer.write(folder)
    lines = [f"# {title}", "", "## Summary", ""]
    lines += [f"- {k}: {_fmt(v)}" for k, v in sections["summary"].items()]
    agg = optimizer.get_aggregate_metrics()
    lines += ["", "## Walk-forward", ""] + [f"- {k}: {_fmt(v)}" for k, v in agg.items()]
    if not optimizer.results.empty:
        plot_windows(optimizer.results, folder / "walk_forward_results.png")
        plot_equity(optimizer.predictions, optimizer.config.threshold, folder / "equity.png")
        plot_importance(optimizer.get_feature_stability(), folder / "feature_importance.png")
        lines += ["", _table(optimizer.results.to_dict("records"), WINDOW_COLUMNS), "",
                  "![windows](walk_forward_results.png)", "", "![equity](equity.png)", "",
                  "## Feature importance (stability over windows)", "",
                  "![importance](feature_importance.png)"]  # fmt: skip
    meta = sections.get("meta")
    if meta:
        lines += ["", "## Meta-labeling", "",
                  f"Out-of-sample: the meta model removes {meta['fp_removed']} of "
                  f"{meta['primary_fp']} false positives ({meta['fp_removed_pct']:.1f} %) at a "
                  f"recall cost of {100 * meta['recall_cost']:.1f} points "
                  f"({100 * meta['primary_recall']:.1f} % -> {100 * meta['meta_recall']:.1f} %); "
                  f"precision {meta['primary_precision']:.3f} -> {meta['meta_precision']:.3f}.",
                  ]  # fmt: skip
    lines += ["", "Files: window_results.csv, all_predictions.csv, feature_stability.csv, "
              "aggregate_metrics.json."]  # fmt: skip
    path = folder / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
