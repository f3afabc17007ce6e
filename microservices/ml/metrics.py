"""Evaluation of probabilities against labels and of acting on them after costs (pure;
scikit-learn is imported inside `classification_metrics`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def classification_metrics(y: np.ndarray, prob: np.ndarray, threshold: float) -> dict[str, float]:
    """auc, log_loss, precision, recall at `threshold`; auc NaN with a single class."""
    from sklearn.metrics import log_loss, precision_score, recall_score, roc_auc_score

    pred = (prob >= threshold).astype(int)
    both = len(np.unique(y)) == 2
    return {
        "auc": float(roc_auc_score(y, prob)) if both else math.nan,
        "log_loss": float(log_loss(y, np.clip(prob, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "positive_rate": float(np.mean(y)) if len(y) else math.nan,
    }


def trading_metrics(
    prob: np.ndarray, ret_bps: np.ndarray, cost_bps: np.ndarray, threshold: float
) -> dict[str, float]:
    """Acting on the signal: a long at every row with prob >= threshold, held to the label's
    exit (ret_bps), paying cost_bps. trades, hit_rate (net > 0), mean and total net bps."""
    act = prob >= threshold
    net = ret_bps[act] - cost_bps[act]
    trades = int(act.sum())
    return {
        "trades": float(trades),
        "hit_rate": float(np.mean(net > 0)) if trades else math.nan,
        "mean_net_bps": float(np.mean(net)) if trades else math.nan,
        "total_net_bps": float(np.sum(net)),
    }


def window_metrics(
    y: np.ndarray, prob: np.ndarray, ret_bps: np.ndarray, cost_bps: np.ndarray, threshold: float
) -> dict[str, Any]:
    return {**classification_metrics(y, prob, threshold),
            **trading_metrics(prob, ret_bps, cost_bps, threshold)}  # fmt: skip
