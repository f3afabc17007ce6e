"""Labels for a time-ordered price series (pure numpy; no I/O, no clock).

Every label looks only at prices strictly after its row's time: the label window of a row
at t0 is (t0, t1], where t1 is the first barrier touch or the time barrier t0 + horizon.
A row whose time barrier lies beyond the last price has no label (NaN): its outcome is not
known yet, and guessing it would leak the end of the data into training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Labels:
    """label: 1.0 / 0.0, NaN when unknown. t1_ms: end of the label window (the exit time).
    ret_bps: log return from t0 to t1 in bps (what a long entered at t0 earns, before costs).
    touched: +1 take-profit first, -1 stop-loss first, 0 time barrier (sign labels: 0)."""

    label: np.ndarray
    t1_ms: np.ndarray
    ret_bps: np.ndarray
    touched: np.ndarray


def _checked(ts_ms: np.ndarray, price: np.ndarray) -> None:
    if ts_ms.shape != price.shape or ts_ms.ndim != 1:
        raise ValueError("ts_ms and price must be 1-d arrays of one length")
    if len(ts_ms) > 1 and bool(np.any(np.diff(ts_ms) <= 0)):
        raise ValueError("ts_ms must be strictly increasing")


def _empty(n: int) -> Labels:
    return Labels(
        label=np.full(n, np.nan), t1_ms=np.zeros(n, dtype=np.int64),
        ret_bps=np.full(n, np.nan), touched=np.zeros(n, dtype=np.int8),
    )  # fmt: skip


def triple_barrier(
    ts_ms: np.ndarray,
    price: np.ndarray,
    tp_bps: np.ndarray,
    sl_bps: np.ndarray,
    horizon_ms: int,
) -> Labels:
    """Long-side triple barrier: label 1 when the log return reaches +tp_bps before -sl_bps
    within horizon_ms, else 0 (stop first, or the time barrier). Barriers are per row
    (fixed bps, or from the ExitBrain planner: `barriers.planner_barriers`)."""
    _checked(ts_ms, price)
    n = len(ts_ms)
    out = _empty(n)
    log_p = np.log(price)
    ends = np.searchsorted(ts_ms, ts_ms + horizon_ms, side="right")  # first index past t0+H
    last = ts_ms[-1] if n else 0
    for i in range(n):
        if ts_ms[i] + horizon_ms > last or ends[i] <= i + 1:
            continue  # time barrier beyond the data, or no later price inside the window
        path = (log_p[i + 1 : ends[i]] - log_p[i]) * 1e4
        up = np.flatnonzero(path >= tp_bps[i])
        down = np.flatnonzero(path <= -sl_bps[i])
        first_up = up[0] if len(up) else len(path)
        first_down = down[0] if len(down) else len(path)
        k = min(first_up, first_down, len(path) - 1)
        hit = 1 if first_up < first_down else (-1 if first_down < first_up else 0)
        out.label[i] = 1.0 if hit == 1 else 0.0
        out.touched[i] = hit
        out.t1_ms[i] = ts_ms[i + 1 + k]
        out.ret_bps[i] = path[k]
    return out


def forward_sign(ts_ms: np.ndarray, price: np.ndarray, horizon_ms: int) -> Labels:
    """1 when the last price at or before t0 + horizon_ms is above the price at t0, else 0."""
    _checked(ts_ms, price)
    n = len(ts_ms)
    out = _empty(n)
    if n == 0:
        return out
    ends = np.searchsorted(ts_ms, ts_ms + horizon_ms, side="right") - 1
    ok = (ts_ms + horizon_ms <= ts_ms[-1]) & (ends > np.arange(n))
    idx = np.flatnonzero(ok)
    ret = (np.log(price[ends[idx]]) - np.log(price[idx])) * 1e4
    out.label[idx] = (ret > 0).astype(float)
    out.t1_ms[idx] = ts_ms[ends[idx]]
    out.ret_bps[idx] = ret
    return out
