"""Alternative book layouts, measured against OrderBook by `bench_book --layouts`.

Each keeps the same semantics as microservices/common/orderbook/book.py (size 0 deletes,
depth cap drops the worst levels after every diff) with only `load`, `apply` and `crossed`,
which is what the venue sync calls per frame. They exist to back the choice documented in
book.py's docstring; nothing in the services imports them.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from microservices.common.orderbook.book import Level, OrderBook


class Layout(Protocol):
    """What the benchmark drives."""

    def load(self, bids: Iterable[Level], asks: Iterable[Level]) -> None: ...
    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> None: ...
    def crossed(self) -> bool: ...


def _set(
    sizes: dict[float, float], keys: list[float], levels: Iterable[Level], sign: float
) -> None:
    for price, size in levels:
        if size:
            if price not in sizes:
                insort(keys, sign * price)
            sizes[price] = size
        elif price in sizes:
            del sizes[price]
            del keys[bisect_left(keys, sign * price)]


class BestFirst:
    """dict + bisect list, best price FIRST on both sides (bids keyed by -price)."""

    def __init__(self, max_depth: int = 0) -> None:
        self.max_depth = max_depth
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.bid_keys: list[float] = []
        self.ask_keys: list[float] = []

    def load(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        self.bids = {p: s for p, s in bids if s}
        self.asks = {p: s for p, s in asks if s}
        self.bid_keys = sorted(-p for p in self.bids)
        self.ask_keys = sorted(self.asks)
        self._cap()

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        _set(self.bids, self.bid_keys, bids, -1.0)
        _set(self.asks, self.ask_keys, asks, 1.0)
        self._cap()

    def _cap(self) -> None:
        cap = self.max_depth
        if cap and len(self.bid_keys) > cap:
            for key in self.bid_keys[cap:]:
                del self.bids[-key]
            del self.bid_keys[cap:]
        if cap and len(self.ask_keys) > cap:
            for key in self.ask_keys[cap:]:
                del self.asks[key]
            del self.ask_keys[cap:]

    def crossed(self) -> bool:
        return bool(self.bid_keys and self.ask_keys) and -self.bid_keys[0] >= self.ask_keys[0]


class LazyDict:
    """dict only; sorted on demand: the cap sorts a side when it is over, reads scan."""

    def __init__(self, max_depth: int = 0) -> None:
        self.max_depth = max_depth
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}

    def load(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        self.bids = {p: s for p, s in bids if s}
        self.asks = {p: s for p, s in asks if s}
        self._cap()

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        for sizes, levels in ((self.bids, bids), (self.asks, asks)):
            for price, size in levels:
                if size:
                    sizes[price] = size
                else:
                    sizes.pop(price, None)
        self._cap()

    def _cap(self) -> None:
        cap = self.max_depth
        if cap and len(self.bids) > cap:
            for price in sorted(self.bids)[: len(self.bids) - cap]:
                del self.bids[price]
        if cap and len(self.asks) > cap:
            for price in sorted(self.asks)[cap:]:
                del self.asks[price]

    def crossed(self) -> bool:
        return bool(self.bids and self.asks) and max(self.bids) >= min(self.asks)


class SortedDictBook:
    """sortedcontainers.SortedDict per side (installed with fakeredis; not a direct dependency)."""

    def __init__(self, max_depth: int = 0) -> None:
        from sortedcontainers import SortedDict

        self.max_depth = max_depth
        self.bids: Any = SortedDict()
        self.asks: Any = SortedDict()

    def load(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        self.bids.clear()
        self.asks.clear()
        self.apply(bids, asks)

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        for sizes, levels in ((self.bids, bids), (self.asks, asks)):
            for price, size in levels:
                if size:
                    sizes[price] = size
                else:
                    sizes.pop(price, None)
        cap = self.max_depth
        while cap and len(self.bids) > cap:
            self.bids.popitem(0)
        while cap and len(self.asks) > cap:
            self.asks.popitem(-1)

    def crossed(self) -> bool:
        if not self.bids or not self.asks:
            return False
        return bool(self.bids.peekitem(-1)[0] >= self.asks.peekitem(0)[0])


LAYOUTS: dict[str, Callable[[int], Layout]] = {
    "OrderBook (best last)": OrderBook,
    "best first": BestFirst,
    "lazy dict": LazyDict,
    "SortedDict": SortedDictBook,
}
