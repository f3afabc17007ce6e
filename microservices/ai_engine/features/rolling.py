"""Incremental rolling-window primitives for the feature engine (O(1) or O(pairs) per push).

Count windows with running sums (re-anchored and re-summed exactly every few pushes so float
residue cannot accumulate), a time-indexed lookback for "value N ms ago", and a rolling
pairwise Pearson correlation. Pure: standard library only, no pandas.
"""

from __future__ import annotations

import math
from collections import deque
from itertools import combinations
from typing import Final

# Variances at or below this are treated as zero (a flat series has no correlation).
VAR_EPS: Final = 1e-20
_MIN_RESUM: Final = 64


class RollingStats:
    """Mean and population std (ddof=0) of the last `size` pushed values.

    Sums are kept relative to an anchor (the mean at the last re-sum), so the std of prices
    around 60 000 with sub-dollar moves stays exact to ~1e-9. A window of identical values
    has std exactly 0.0 (tracked by the run of identical trailing values, so the residue the
    running sums keep from evicted values cannot fake a tiny non-zero std).
    """

    __slots__ = ("_anchor", "_pushes", "_run", "_size", "_sum", "_sumsq", "_values")

    def __init__(self, size: int) -> None:
        self._size = max(size, 1)
        self._values: deque[float] = deque()
        self._anchor = 0.0
        self._sum = 0.0
        self._sumsq = 0.0
        self._pushes = 0
        self._run = 0

    def __len__(self) -> int:
        return len(self._values)

    def push(self, x: float) -> None:
        values = self._values
        if not values:
            self._anchor, self._sum, self._sumsq = x, 0.0, 0.0
        self._run = self._run + 1 if values and values[-1] == x else 1
        d = x - self._anchor
        values.append(x)
        self._sum += d
        self._sumsq += d * d
        if len(values) > self._size:
            old = values.popleft() - self._anchor
            self._sum -= old
            self._sumsq -= old * old
        self._pushes += 1
        if self._pushes >= max(self._size, _MIN_RESUM):
            self._resum()

    def mean(self) -> float:
        """Mean of the window; 0.0 when empty."""
        n = len(self._values)
        return self._anchor + self._sum / n if n else 0.0

    def std(self) -> float:
        """Population std of the window; 0.0 with fewer than two values."""
        n = len(self._values)
        if n < 2 or self._run >= n:
            return 0.0
        mean_d = self._sum / n
        return math.sqrt(max(self._sumsq / n - mean_d * mean_d, 0.0))

    def _resum(self) -> None:
        self._pushes = 0
        values = self._values
        self._anchor = math.fsum(values) / len(values)
        self._sum = math.fsum(v - self._anchor for v in values)
        self._sumsq = math.fsum((v - self._anchor) ** 2 for v in values)


class TimeLookback:
    """Time-stamped values; answers "the latest value at or before time t" for increasing t.

    Queries must use non-decreasing cutoffs: entries older than the one answering a query
    are dropped, so memory is bounded by the lookback span divided by the push interval.
    """

    __slots__ = ("_times", "_values")

    def __init__(self) -> None:
        self._times: deque[int] = deque()
        self._values: deque[float] = deque()

    def push(self, t_ms: int, value: float) -> None:
        self._times.append(t_ms)
        self._values.append(value)

    def at_or_before(self, cutoff_ms: int) -> float | None:
        times, values = self._times, self._values
        while len(times) >= 2 and times[1] <= cutoff_ms:
            times.popleft()
            values.popleft()
        if times and times[0] <= cutoff_ms:
            return values[0]
        return None


_Row = tuple[tuple[str, float], ...]  # (venue, return) pairs sorted by venue


class _PairSums:
    """Running sums of one venue pair, plus the runs of identical trailing values per side
    (a side whose run covers every joint sample is flat: exactly, whatever the sums say)."""

    __slots__ = ("last_a", "last_b", "n", "run_a", "run_b", "sa", "saa", "sab", "sb", "sbb")

    def __init__(self) -> None:
        self.n = 0
        self.sa = self.sb = self.saa = self.sbb = self.sab = 0.0
        self.last_a = self.last_b = math.nan
        self.run_a = self.run_b = 0

    def add(self, ra: float, rb: float, sign: int) -> None:
        self.n += sign
        self.sa += sign * ra
        self.sb += sign * rb
        self.saa += sign * ra * ra
        self.sbb += sign * rb * rb
        self.sab += sign * ra * rb
        if sign > 0:  # rows are added in time order, evicted oldest first
            self.run_a = self.run_a + 1 if ra == self.last_a else 1
            self.run_b = self.run_b + 1 if rb == self.last_b else 1
            self.last_a, self.last_b = ra, rb

    def correlation(self) -> float | None:
        """Pearson correlation, or None when either side is flat."""
        n = self.n
        if self.run_a >= n or self.run_b >= n:
            return None
        ma, mb = self.sa / n, self.sb / n
        var_a, var_b = self.saa / n - ma * ma, self.sbb / n - mb * mb
        if var_a <= VAR_EPS or var_b <= VAR_EPS:
            return None
        rho = (self.sab / n - ma * mb) / math.sqrt(var_a * var_b)
        return min(max(rho, -1.0), 1.0)


class PairCorrelation:
    """Rolling Pearson correlation of every venue pair over the last `size` rows.

    A row is one snapshot's returns by venue (venues missing from the row simply contribute
    no sample to their pairs). Each pair keeps n, Σa, Σb, Σa², Σb², Σab over the rows where
    both venues appear; pushing a row adds its pairs and subtracts those of the row leaving
    the window, O(venues²).
    """

    __slots__ = ("_pairs", "_pushes", "_rows", "_size")

    def __init__(self, size: int) -> None:
        self._size = max(size, 1)
        self._rows: deque[_Row] = deque()
        self._pairs: dict[tuple[str, str], _PairSums] = {}
        self._pushes = 0

    def push(self, returns: dict[str, float]) -> None:
        row: _Row = tuple(sorted(returns.items()))
        self._add(row, 1)
        self._rows.append(row)
        if len(self._rows) > self._size:
            self._add(self._rows.popleft(), -1)
        self._pushes += 1
        if self._pushes >= max(self._size, _MIN_RESUM):
            self._pushes = 0
            self._pairs.clear()
            for kept in self._rows:
                self._add(kept, 1)

    def _add(self, row: _Row, sign: int) -> None:
        for (a, ra), (b, rb) in combinations(row, 2):
            pair = self._pairs.get((a, b))
            if pair is None:
                pair = self._pairs[(a, b)] = _PairSums()
            pair.add(ra, rb, sign)
            if pair.n <= 0:
                del self._pairs[(a, b)]

    def mean_correlation(self, min_samples: int = 3) -> float:
        """Mean Pearson correlation over pairs with >= min_samples joint rows and non-flat
        series on both sides; 0.0 when no pair qualifies. Each value is clipped to [-1, 1]."""
        total, count = 0.0, 0
        for pair in self._pairs.values():
            if pair.n < min_samples:
                continue
            rho = pair.correlation()
            if rho is not None:
                total += rho
                count += 1
        return total / count if count else 0.0
