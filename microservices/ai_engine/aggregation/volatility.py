"""Incremental realized-volatility ratio behind `volatility_factor`.

Samples the cross-venue `avg_price` once per `sample_ms` bucket and keeps the log returns
between consecutive samples in a short and a long time window, each with running sums of r
and r², so every step is O(1) amortized. Pure: time is always the caller's `now_ms`.
"""

from __future__ import annotations

import math
from array import array
from typing import Final

# Returns the short window must hold before the ratio is trusted.
MIN_SHORT_RETURNS: Final = 10
# Running sums are recomputed exactly this often (pushes) so add/subtract residue can't build up.
_RESUM_EVERY: Final = 4096


class ReturnWindow:
    """Log returns stamped with their end time, kept while end time > newest - window_ms.

    A window of identical returns (e.g. a flat price) has std exactly 0.0: the run of identical
    trailing returns is tracked, so running-sum residue from evicted returns can't fake one.

    Held in a ring of two flat arrays (16 bytes a return, not ~70 as boxed ints and floats in
    deques) allocated at `capacity` (the most returns the window can hold: one per sampling
    bucket), so memory does not creep up while the window fills; it doubles if ever full.
    """

    __slots__ = (
        "_head", "_n", "_pushes", "_returns", "_run", "_sum", "_sumsq", "_times", "_window_ms",
    )  # fmt: skip

    def __init__(self, window_ms: int, capacity: int = 64) -> None:
        self._window_ms = window_ms
        size = max(capacity, 1)
        self._times = array("q", bytes(8 * size))
        self._returns = array("d", bytes(8 * size))
        self._head = 0  # index of the oldest held return
        self._n = 0
        self._sum = 0.0
        self._sumsq = 0.0
        self._pushes = 0
        self._run = 0

    def __len__(self) -> int:
        return self._n

    def push(self, t_ms: int, r: float) -> None:
        times, returns, size = self._times, self._returns, len(self._times)
        n = self._n
        self._run = self._run + 1 if n and returns[(self._head + n - 1) % size] == r else 1
        cutoff = t_ms - self._window_ms
        head = self._head
        while n and times[head] <= cutoff:
            old = returns[head]
            self._sum -= old
            self._sumsq -= old * old
            head = (head + 1) % size
            n -= 1
        self._head, self._n = head, n
        if n == size:
            self._grow()
            times, returns, size = self._times, self._returns, len(self._times)
        tail = (self._head + n) % size
        times[tail] = t_ms
        returns[tail] = r
        self._n = n + 1
        self._sum += r
        self._sumsq += r * r
        self._pushes += 1
        if self._pushes >= _RESUM_EVERY:
            self._resum()

    def clear(self) -> None:
        self._head = self._n = 0
        self._sum = self._sumsq = 0.0
        self._run = 0

    def std(self) -> float:
        """Population standard deviation (ddof=0) of the held returns; 0.0 when empty or flat."""
        n = self._n
        if n == 0 or self._run >= n:
            return 0.0
        mean = self._sum / n
        return math.sqrt(max(self._sumsq / n - mean * mean, 0.0))

    def _held(self) -> list[float]:
        size = len(self._returns)
        return [self._returns[(self._head + i) % size] for i in range(self._n)]

    def _grow(self) -> None:
        size = len(self._times)
        order = [(self._head + i) % size for i in range(self._n)]
        self._times = array("q", [self._times[i] for i in order]) + array("q", bytes(8 * size))
        self._returns = array("d", [self._returns[i] for i in order]) + array("d", bytes(8 * size))
        self._head = 0

    def _resum(self) -> None:
        self._pushes = 0
        held = self._held()
        self._sum = math.fsum(held)
        self._sumsq = math.fsum(r * r for r in held)


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
        # one return per sampling bucket at most: the windows' sizes are known up front
        self._short = ReturnWindow(short_ms, short_ms // self._sample_ms + 1)
        self._long = ReturnWindow(long_ms, long_ms // self._sample_ms + 1)
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
