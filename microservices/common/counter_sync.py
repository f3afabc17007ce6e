"""Cumulative counts (a parser's, a book set's) turned into Prometheus counter increments."""

from __future__ import annotations

from collections.abc import Hashable


class CounterSync:
    """Remembers the totals already exported per key; `delta` says how much is new."""

    __slots__ = ("_exported",)

    def __init__(self) -> None:
        self._exported: dict[Hashable, int] = {}

    def delta(self, key: Hashable, total: int) -> int:
        """What `total` adds since the last call for `key` (0 when nothing; a total that went
        down, a counter replaced, restarts from it)."""
        before = self._exported.get(key, 0)
        self._exported[key] = total
        return total - before if total >= before else total
