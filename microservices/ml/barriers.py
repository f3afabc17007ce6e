"""Take-profit / stop-loss barrier widths per feature row: fixed bps, or the ExitBrain v3
planner's distances with the multipliers the row's features give (pure; no I/O)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from backend.domains.exits.exit_brain_v3.adjustments import compute_multipliers
from backend.domains.exits.exit_brain_v3.models import CrossExchangeState, ExitParams


def fixed_barriers(n: int, tp_bps: float, sl_bps: float) -> tuple[np.ndarray, np.ndarray]:
    if not (tp_bps > 0 and sl_bps > 0):
        raise ValueError("tp_bps and sl_bps must be > 0")
    return np.full(n, float(tp_bps)), np.full(n, float(sl_bps))


def planner_barriers(
    frame: pd.DataFrame, base_tp_pct: float, base_sl_pct: float, params: ExitParams
) -> tuple[np.ndarray, np.ndarray]:
    """(tp_bps, sl_bps) per row as build_exit_plan prices them: tp_pct = max(base_tp_pct x
    tp_multiplier, min_tp_pct), sl_pct = max(base_sl_pct x sl_multiplier, min_sl_pct), with
    the multipliers of the row's volatility_factor, exchange_divergence and funding_delta."""
    n = len(frame)
    tp, sl = np.empty(n), np.empty(n)
    names = ("volatility_factor", "exchange_divergence", "funding_delta", "num_exchanges")
    cols = [frame[c].to_numpy(float) for c in names]
    for i in range(n):
        state = CrossExchangeState(
            symbol="", volatility_factor=cols[0][i], exchange_divergence=cols[1][i],
            funding_delta=cols[2][i], num_exchanges=int(cols[3][i]), data_age_seconds=0.0,
            is_stale=False, ts_ms=0,
        )  # fmt: skip
        adj = compute_multipliers(state, params)
        tp[i] = max(base_tp_pct * adj.tp_multiplier, params.min_tp_pct) * 100.0
        sl[i] = max(base_sl_pct * adj.sl_multiplier, params.min_sl_pct) * 100.0
    return tp, sl
