"""Folding of repeated log events: one line per key and interval, with a count.

A failure that hits every symbol of a venue every poll (DNS down, a 503 storm) would log one
line per symbol per poll; `FoldedLog` logs the first at once and the rest as one line per key
per `interval_s` carrying `count` (failures since the previous line) and the distinct values
of the sample fields seen (`symbol`, `endpoint`). Pure bookkeeping plus `logging`; the clock
is injectable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Key = tuple[tuple[str, str], ...]


@dataclass(slots=True)
class _Fold:
    logged_at: float
    count: int = 0  # occurrences since the last line
    samples: dict[str, set[str]] = field(default_factory=dict)


class FoldedLog:
    def __init__(
        self,
        logger: logging.Logger,
        event: str,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._event = event
        self._interval_s = interval_s
        self._clock = clock
        self._folds: dict[Key, _Fold] = {}
        self.lines = 0  # lines logged (all time)

    def add(self, key: dict[str, str], **samples: str) -> None:
        """Count one occurrence of `key`; log now if the key's interval has passed."""
        now = self._clock()
        fold_key = tuple(sorted(key.items()))
        fold = self._folds.get(fold_key)
        if fold is None:
            fold = self._folds[fold_key] = _Fold(logged_at=now - self._interval_s)
        fold.count += 1
        for name, value in samples.items():
            fold.samples.setdefault(name, set()).add(value)
        if now - fold.logged_at >= self._interval_s:
            self._emit(fold_key, fold, now)

    def flush(self, force: bool = False) -> None:
        """Log the counts whose interval has passed (all of them with `force`)."""
        now = self._clock()
        for fold_key, fold in self._folds.items():
            if fold.count and (force or now - fold.logged_at >= self._interval_s):
                self._emit(fold_key, fold, now)

    def _emit(self, fold_key: Key, fold: _Fold, now: float) -> None:
        extra: dict[str, object] = dict(fold_key)
        extra["count"] = fold.count
        extra |= {name: ",".join(sorted(values)) for name, values in fold.samples.items()}
        self._logger.warning(self._event, extra=extra)
        self.lines += 1
        fold.logged_at, fold.count, fold.samples = now, 0, {}
