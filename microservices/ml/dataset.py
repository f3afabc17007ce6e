"""Training rows: features per symbol joined with their labels, and the purging that keeps
label windows out of test windows (pure pandas/numpy; no I/O, no clock).

A dataset frame has `symbol`, `ts_ms` (t0: the feature row's time), the feature columns,
`label`, `t1_ms` (end of the label window, always > t0), `ret_bps` (log return of a long
from t0 to t1) and `cost_bps` (round-trip cost of acting: fees + the NBBO spread, half on
entry and half on exit). Rows whose label is unknown (the window runs past the data) are
dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np
import pandas as pd

from backend.domains.exits.exit_brain_v3.models import ExitParams
from microservices.common.derived_schemas import FEATURE_NAMES
from microservices.ml.barriers import fixed_barriers, planner_barriers
from microservices.ml.labels import Labels, forward_sign, triple_barrier

# price levels and calendar fields say where and when, not what happens next; a model on
# them learns the training period's level (non-stationary) instead of a market state
EXCLUDED_FEATURES: Final = ("avg_price", "price_divergence", "volatility_spread", "hour",
                            "day_of_week")  # fmt: skip
DEFAULT_FEATURES: Final = tuple(n for n in FEATURE_NAMES if n not in EXCLUDED_FEATURES)
LABEL_COLUMNS: Final = ("label", "t1_ms", "ret_bps", "cost_bps")

LabelKind = Literal["triple_barrier", "sign"]
BarrierKind = Literal["fixed", "planner"]


@dataclass(frozen=True, slots=True)
class LabelConfig:
    """kind: triple_barrier (TP before SL within the horizon) or sign (forward return > 0).
    barriers: fixed (tp_bps / sl_bps) or planner (ExitBrain distances from base_tp_pct /
    base_sl_pct with each row's multipliers). cost_bps: round-trip taker fees."""

    kind: LabelKind = "triple_barrier"
    horizon_ms: int = 60_000
    barriers: BarrierKind = "fixed"
    tp_bps: float = 10.0
    sl_bps: float = 10.0
    base_tp_pct: float = 0.3
    base_sl_pct: float = 0.15
    cost_bps: float = 5.0
    exit_params: ExitParams = field(default_factory=ExitParams)

    def __post_init__(self) -> None:
        if self.horizon_ms <= 0 or self.cost_bps < 0:
            raise ValueError("horizon_ms must be > 0 and cost_bps >= 0")


def _labels_for(group: pd.DataFrame, config: LabelConfig) -> Labels:
    ts = group["ts_ms"].to_numpy(np.int64)
    price = group["avg_price"].to_numpy(float)
    if config.kind == "sign":
        return forward_sign(ts, price, config.horizon_ms)
    if config.barriers == "planner":
        tp, sl = planner_barriers(group, config.base_tp_pct, config.base_sl_pct,
                                  config.exit_params)  # fmt: skip
    else:
        tp, sl = fixed_barriers(len(group), config.tp_bps, config.sl_bps)
    return triple_barrier(ts, price, tp, sl, config.horizon_ms)


def clean_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop rows without a usable time or a positive price, duplicate times, and sort."""
    ok = frame["ts_ms"].notna() & (frame["avg_price"] > 0) & np.isfinite(frame["avg_price"])
    out = frame.loc[ok].copy()
    out["ts_ms"] = out["ts_ms"].astype(np.int64)
    out = out.drop_duplicates(["symbol", "ts_ms"], keep="last")
    sorted_rows: pd.DataFrame = out.sort_values(["symbol", "ts_ms"], kind="stable")
    return sorted_rows.reset_index(drop=True)


def build_dataset(features: pd.DataFrame, config: LabelConfig) -> pd.DataFrame:
    """Label every symbol's rows on its own avg_price path; rows with unknown labels dropped.
    Sorted by ts_ms (then symbol), so time-based splits see one timeline."""
    parts = []
    for _, group in clean_features(features).groupby("symbol", sort=True):
        labels = _labels_for(group, config)
        part = group.copy()
        part["label"] = labels.label
        part["t1_ms"] = labels.t1_ms
        part["ret_bps"] = labels.ret_bps
        spread = part["consolidated_spread_bps"].clip(lower=0.0).fillna(0.0)
        part["cost_bps"] = config.cost_bps + spread  # half the spread in, half out
        parts.append(part[part["label"].notna()])
    if not parts:
        return pd.DataFrame(columns=[*features.columns, *LABEL_COLUMNS])
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["ts_ms", "symbol"], kind="stable").reset_index(drop=True)


def purge_mask(
    t0_ms: np.ndarray, t1_ms: np.ndarray, test_start: int, test_end: int, embargo_ms: int
) -> np.ndarray:
    """True for rows that may train a model tested on [test_start, test_end).

    Removed: every row whose label window [t0, t1] overlaps the test window (this includes
    the test rows themselves), and the embargo: rows with t0 in [test_end, test_end +
    embargo_ms), whose features still carry the test period's information.
    """
    overlap = (t0_ms < test_end) & (t1_ms >= test_start)
    embargo = (t0_ms >= test_end) & (t0_ms < test_end + embargo_ms)
    return ~(overlap | embargo)
