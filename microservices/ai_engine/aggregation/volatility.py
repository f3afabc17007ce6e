"""Incremental realized-volatility ratio behind `volatility_factor`.

Samples the cross-venue `avg_price` once per `sample_ms` bucket and keeps the log returns
between consecutive samples in a short and a long time window, each with running sums of r
and r², so every step is O(1) amortized. Pure: time is always the caller's `now_ms`.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Final

# Returns the short window must hold before the ratio is trusted.
MIN_SHORT_RETURNS: Final = 10
# Running sums are recomputed exactly this often (pushes) so add/subtract residue can't build up.
_RESUM_EVERY: Final = 4096


class ReturnWindow:
    """Log returns stamped with their end time, kept while end time > newest - window_ms.

    A window of identical returns (e.g. a flat price) has std exactly 0.0: the run of identical
    trailing returns is tracked, so running-sum residue from evicted returns can't fake one.
    """

    __slots__ = ("_pushes", "_returns", "_run", "_sum", "_sumsq", "_times", "_window_ms")

    def __init__(self, window_ms: int) -> None:
        self._window_ms = window_ms
        self._times: deque[int] = deque()
        self._returns: deque[float] = deque()
        self._sum = 0.0
        self._sumsq = 0.0
        self._pushes = 0
        self._run = 0

    def __len__(self) -> int:
        return len(self._returns)

    def push(self, t_ms: int, r: float) -> None:
        returns = self._returns
        self._run = self._run + 1 if returns and returns[-1] == r else 1
        self._times.append(t_ms)
        self._returns.append(r)
        self._sum += r
        self._sumsq += r * r
        cutoff = t_ms - self._window_ms
        while self._times and self._times[0] <= cutoff:
            self._times.popleft()
            old = self._returns.popleft()
            self._sum -= old
            self._sumsq -= old * old
        self._pushes += 1
        if self._pushes >= _RESUM_EVERY:
            self._resum()

    def clear(self) -> None:
        self._times.clear()
        self._returns.clear()
        self._sum = self._sumsq = 0.0
        self._run = 0

    def std(self) -> float:
        """Population standard deviation (ddof=0) of the held returns; 0.0 when empty or flat."""
        n = len(self._returns)
        if n == 0 or self._run >= n:
            return 0.0
        mean = self._sum / n
        return math.sqrt(max(self._sumsq / n - mean * mean, 0.0))

    def _resum(self) -> None:
        self._pushes = 0
        self._sum = math.fsum(self._returns)
        self._sumsq = math.fsum(r * r for r in self._returns)


class VolatilityTracker:
    """volatility_factor = std(short-window returns) / std(long-window returns), capped.

    Sampling: `observe(now_ms, price)` keeps the latest price of the current bucket
    (`now_ms // sample_ms`); a bucket's sample is committed, stamped with the bucket start
    time, when the first observation of a later bucket arrives. So the factor uses committed
    samples only and lags the live price by at most one bucket; calling `observe` twice in the
    same bucket is harmless. Observations from an earlier bucket than the pending one are ignored.

    Returns are between consecutive committed samples (a gap without snapshots yields one return
    over the gap). A gap longer than the short window restarts the history (warm-up again), so
    one return over an outage cannot dominate both windows.

    `factor()` is exactly 1.0 until the short window holds at least MIN_SHORT_RETURNS returns
    AND the committed history spans more than the short window, and whenever the long-window
    std is 0; otherwise it is min(short_std / long_std, cap) (0.0 if the short window is flat).
    """

    __slots__ = (
        "_cap",
        "_first_t",
        "_last_logp",
        "_last_t",
        "_long",
        "_pending_bucket",
        "_pending_price",
        "_sample_ms",
        "_short",
        "_short_ms",
    )

    def __init__(self, sample_ms: int, short_ms: int, long_ms: int, cap: float) -> None:
        self._sample_ms = max(sample_ms, 1)
        self._short_ms = short_ms
        self._cap = cap
        self._short = ReturnWindow(short_ms)
        self._long = ReturnWindow(long_ms)
        self._pending_bucket: int | None = None
        self._pending_price = 0.0
        self._first_t = 0
        self._last_t: int | None = None
        self._last_logp = 0.0

    def observe(self, now_ms: int, price: float) -> None:
        """Record `price` (must be > 0) as the latest value of now_ms's sampling bucket."""
        bucket = now_ms // self._sample_ms
        pending = self._pending_bucket
        if pending is not None:
            if bucket < pending:
                return
            if bucket > pending:
                self._commit(pending * self._sample_ms, self._pending_price)
        self._pending_bucket = bucket
        self._pending_price = price

    def factor(self) -> float:
        if self._last_t is None or len(self._short) < MIN_SHORT_RETURNS:
            return 1.0
        if self._last_t - self._first_t <= self._short_ms:
            return 1.0
        vol_long = self._long.std()
        if vol_long <= 0.0:
            return 1.0
        return min(self._short.std() / vol_long, self._cap)

    def _commit(self, t_ms: int, price: float) -> None:
        logp = math.log(price)
        last_t = self._last_t
        if last_t is None or t_ms - last_t > self._short_ms:
            self._short.clear()
            self._long.clear()
            self._first_t = t_ms
        else:
            r = logp - self._last_logp
            self._short.push(t_ms, r)
            self._long.push(t_ms, r)
        self._last_t = t_ms
        self._last_logp = logp
