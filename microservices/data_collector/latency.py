"""Latency of WebSocket records per venue: exchange time -> receive time (`recv_ms - ts_ms`).

- `LatencyRecorder` (one per connection) is the hot path: per record a dict lookup and a
  bounded deque append; `drain()` hands the samples over once a second (the health loop).
- `bucket_counts` sorts drained samples into histogram buckets (`ce_ws_latency_seconds`).
- `LatencyWindow` (one per venue) keeps the samples of the last minute, at most about
  `max_samples`, and answers p50/p95 by nearest rank.
Only record types whose `ts_ms` is the venue's own clock at the event are measured (the
venue's `Exchange.latency_types`). Pure: no I/O, never reads the clock (`now_ms` is passed).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Final

from microservices.common.records import AnyRaw

# Samples kept per connection and record type between two drains (one second): more than a
# venue sends; beyond it the oldest are dropped, so the histogram counts a sample of them.
PENDING_CAP: Final = 65_536
WINDOW_MS: Final = 60_000
MAX_WINDOW_SAMPLES: Final = 4_096


class LatencyRecorder:
    """Collects `recv_ms - ts_ms` per record type until drained."""

    __slots__ = ("_add", "_pending")

    def __init__(self, types: Iterable[str], cap: int = PENDING_CAP) -> None:
        self._pending: dict[str, deque[int]] = {t: deque(maxlen=cap) for t in types}
        self._add: dict[str, Callable[[int], None]] = {
            t: d.append for t, d in self._pending.items()
        }

    def observe(self, records: Sequence[AnyRaw], recv_ms: int) -> None:
        """One frame's records; types not measured are skipped."""
        add = self._add.get
        for record in records:
            append = add(record.type)
            if append is not None:
                append(recv_ms - record.ts_ms)

    def drain(self) -> dict[str, list[int]]:
        """Record type -> samples (ms) since the last drain, oldest first; types without any
        are left out."""
        out: dict[str, list[int]] = {}
        for kind, pending in self._pending.items():
            if pending:
                out[kind] = list(pending)
                pending.clear()
        return out


def bucket_counts(samples: Iterable[int], bounds: Sequence[int]) -> list[int]:
    """Per-bucket (not cumulative) counts for sorted upper `bounds`: bucket i holds
    bounds[i-1] < x <= bounds[i], the last one (+Inf) x > bounds[-1]; len(bounds) + 1 counts."""
    counts = [0] * (len(bounds) + 1)
    for sample in samples:
        counts[bisect_left(bounds, sample)] += 1
    return counts


def percentile(ordered: Sequence[int], pct: int) -> int:
    """Nearest-rank percentile of sorted values: the smallest value with at least `pct` % of
    the values <= it (rank ceil(pct * n / 100), 1-based). ValueError when empty or pct is not
    within 1..100."""
    if not ordered or not 1 <= pct <= 100:
        raise ValueError(f"percentile {pct} of {len(ordered)} values")
    rank = (pct * len(ordered) + 99) // 100  # integer ceil: no float rounding at the edges
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class LatencySummary:
    p50: int | None  # ms; None without samples
    p95: int | None
    samples: int

    def as_dict(self) -> dict[str, int | None]:
        return {"p50": self.p50, "p95": self.p95, "samples": self.samples}


class LatencyWindow:
    """Samples of the last `window_ms`, added in batches; when more than `max_samples`, whole
    oldest batches are dropped while at least `max_samples` remain (so it holds fewer than
    `2 * max_samples`)."""

    __slots__ = ("_batches", "_count", "max_samples", "window_ms")

    def __init__(self, window_ms: int = WINDOW_MS, max_samples: int = MAX_WINDOW_SAMPLES) -> None:
        self.window_ms = window_ms
        self.max_samples = max_samples
        self._batches: deque[tuple[int, list[int]]] = deque()
        self._count = 0

    def add(self, now_ms: int, samples: Sequence[int]) -> None:
        if samples:
            kept = list(samples[-self.max_samples :])
            self._batches.append((now_ms, kept))
            self._count += len(kept)
        self._trim(now_ms)

    def summary(self, now_ms: int) -> LatencySummary:
        self._trim(now_ms)
        if not self._count:
            return LatencySummary(None, None, 0)
        ordered = sorted(chain.from_iterable(batch for _, batch in self._batches))
        return LatencySummary(percentile(ordered, 50), percentile(ordered, 95), len(ordered))

    def _trim(self, now_ms: int) -> None:
        horizon = now_ms - self.window_ms
        batches = self._batches
        while batches and (
            batches[0][0] <= horizon or self._count - len(batches[0][1]) >= self.max_samples
        ):
            self._count -= len(batches.popleft()[1])
