"""Lead-lag between two venues from asynchronous price changes (Hayashi-Yoshida estimator).

`TickSeries` stores one venue's (observation time, log price) changes in a growing numpy
buffer trimmed to a time window; `hy_correlations` evaluates the shifted HY correlation on a
grid of lags; `best_lag_ms` picks the lag. Pure numpy, no I/O.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# |rho| at or below this means "no co-movement detected": the lag is reported as 0.
MIN_ABS_RHO: Final = 1e-9
_INITIAL_CAPACITY: Final = 256


class TickSeries:
    """Observation times (ms, strictly increasing) and values of one venue's price changes.

    Held in two flat buffers; evicted entries leave a gap at the front that is closed in place
    when the buffers' end is reached. Capacity is set while the window fills (before the first
    eviction): it doubles whenever the count passes half of it, so a filled window holds at
    most half its buffers. After that it grows only if the count passes 3/4 of the capacity,
    i.e. if the change rate rises by half; otherwise memory stays flat for the process's life
    (growing at the end of each buffer cycle instead would add a step after the window filled).
    """

    __slots__ = ("_end", "_filled", "_start", "_t", "_v")

    def __init__(self) -> None:
        self._t: IntArray = np.empty(_INITIAL_CAPACITY, dtype=np.int64)
        self._v: FloatArray = np.empty(_INITIAL_CAPACITY, dtype=np.float64)
        self._start = 0
        self._end = 0
        self._filled = False  # an entry has left the window

    def __len__(self) -> int:
        return self._end - self._start

    def last(self) -> tuple[int, float] | None:
        if self._end == self._start:
            return None
        return int(self._t[self._end - 1]), float(self._v[self._end - 1])

    def append(self, t_ms: int, value: float) -> None:
        """Append a change; callers guarantee t_ms is later than the last held time."""
        capacity = len(self._t)
        if self._end == capacity or (not self._filled and 2 * len(self) >= capacity):
            self._make_room()
        self._t[self._end] = t_ms
        self._v[self._end] = value
        self._end += 1

    def evict_before(self, cutoff_ms: int) -> None:
        """Drop changes observed before cutoff_ms (O(log n))."""
        held = self._t[self._start : self._end]
        dropped = int(np.searchsorted(held, cutoff_ms, side="left"))
        if dropped:
            self._start += dropped
            self._filled = True

    def arrays(self) -> tuple[IntArray, FloatArray]:
        """Zero-copy views of the held times and values."""
        return self._t[self._start : self._end], self._v[self._start : self._end]

    def _make_room(self) -> None:
        n = len(self)
        capacity = len(self._t)
        limit = capacity // 2 if not self._filled else capacity * 3 // 4
        if n >= limit:
            t = np.empty(2 * capacity, dtype=np.int64)
            v = np.empty(2 * capacity, dtype=np.float64)
        else:  # close the gap in place (numpy copes with the overlap)
            t, v = self._t, self._v
        t[:n] = self._t[self._start : self._end]
        v[:n] = self._v[self._start : self._end]
        self._t, self._v, self._start, self._end = t, v, 0, n


def hy_correlations(
    tx: IntArray, x: FloatArray, ty: IntArray, y: FloatArray, lags_ms: IntArray
) -> FloatArray:
    """Hayashi-Yoshida correlation of X and Y increments for each lag θ in `lags_ms`.

    X's increments live on intervals I_i = (tx[i-1], tx[i]], Y's on J_j = (ty[j-1], ty[j]];
    for a lag θ, Y's times are shifted to ty - θ, and

        cov(θ) = Σ_i Σ_j ΔX_i ΔY_j 1{I_i ∩ (J_j - θ) ≠ ∅},
        ρ(θ) = cov(θ) / sqrt(Σ ΔX_i² · Σ ΔY_j²).

    So θ > 0 pairs X's move with Y's move θ ms later: X leads. The Y intervals meeting I_i are
    a contiguous run j = lo..hi, whose increments telescope to y[hi] - y[lo-1]; lo and hi
    advance monotonically with i, so the overlap sweep is a merge of the two sorted time arrays
    (the two-pointer sweep), done for all lags at once by np.searchsorted: O((n + m) log m)
    per lag in C instead of the O(n·m) double sum. Returns zeros when either side has no
    non-zero increment.
    """
    lags = np.asarray(lags_ms, dtype=np.int64)
    if len(tx) < 2 or len(ty) < 2:
        return np.zeros(len(lags), dtype=np.float64)
    dx = np.diff(x)
    dy = np.diff(y)
    denom = math.sqrt(float(np.dot(dx, dx)) * float(np.dot(dy, dy)))
    if denom <= 0.0 or not math.isfinite(denom):
        return np.zeros(len(lags), dtype=np.float64)
    m = len(ty) - 1
    # I_i = (a_i, b_i] meets J_j - θ  <=>  ty[j] > a_i + θ  and  ty[j-1] < b_i + θ
    starts = tx[:-1][np.newaxis, :] + lags[:, np.newaxis]
    ends = tx[1:][np.newaxis, :] + lags[:, np.newaxis]
    lo = np.maximum(np.searchsorted(ty, starts, side="right"), 1)
    hi = np.minimum(np.searchsorted(ty, ends, side="left"), m)
    # hi >= lo - 1 always; an interval outside Y's span gets hi == lo - 1, i.e. a zero run.
    runs = y[hi] - y[lo - 1]
    cov: FloatArray = runs @ dx
    return cov / denom


def lag_grid(max_lag_ms: int, step_ms: int) -> IntArray:
    """Lags -max..+max in step_ms steps (always contains 0)."""
    step = max(step_ms, 1)
    half = max(max_lag_ms, 0) // step
    return np.arange(-half, half + 1, dtype=np.int64) * step


def best_lag_ms(tx: IntArray, x: FloatArray, ty: IntArray, y: FloatArray, lags_ms: IntArray) -> int:
    """The lag maximizing |ρ(θ)| (ties go to the smallest |θ|, then to positive θ).

    0 when no lag shows |ρ| > MIN_ABS_RHO (too few changes, or no co-movement).
    """
    rho = np.abs(hy_correlations(tx, x, ty, y, lags_ms))
    if len(rho) == 0:
        return 0
    order = np.lexsort((-lags_ms, np.abs(lags_ms)))
    best = int(order[int(np.argmax(rho[order]))])
    if not rho[best] > MIN_ABS_RHO:
        return 0
    return int(lags_ms[best])
