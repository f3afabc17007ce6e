"""One venue's L2 order book of one instrument: price -> size per side, kept sorted.

Pure and hot: no validation (the venue sync code validates), no I/O, no clock. Each side is a
dict price -> size plus a sorted list of keys kept with `bisect`, with the BEST price at the
END of the list on both sides (bids keyed by price, asks by -price), because diffs land near
the top of the book and `insort`/`del` then move only the few pointers after the insertion
point, while the depth cap drops the worst levels from the front in one slice.

Measured with `python -m benchmarks.bench_book --layouts` (book_stream's NKNUSDT stream,
frames merged to 13.1 changed levels on average, cap 1000, apply + crossed() per frame as
the venue sync does; 2-core VM, Python 3.11, median of 5): ns per changed level, this layout
174, best price first (moves the whole list on inserts near the top) 199,
sortedcontainers.SortedDict 419, dict only sorted on demand 1,716 (fastest to apply, but
crossed() scans both sides every frame and the cap sorts). About 92% of changed levels
update an existing price: a `not in` test and one dict store; new and deleted prices add a
bisect and a short memmove.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator

Level = tuple[float, float]  # (price, size)


class OrderBook:
    """One venue's L2 book of one instrument: price -> size per side, best first."""

    __slots__ = ("_ask_keys", "_asks", "_bid_keys", "_bids", "max_depth")

    def __init__(self, max_depth: int = 0) -> None:
        """`max_depth` > 0 keeps at most that many levels per side (the worst are dropped)."""
        if max_depth < 0:
            raise ValueError(f"max_depth must be >= 0 (0 = unbounded), got {max_depth}")
        self.max_depth = max_depth
        self._bids: dict[float, float] = {}
        self._asks: dict[float, float] = {}
        self._bid_keys: list[float] = []  # ascending prices: best bid last
        self._ask_keys: list[float] = []  # ascending -price: best ask last

    def clear(self) -> None:
        """Empty both sides (before a resync)."""
        self._bids.clear()
        self._asks.clear()
        self._bid_keys.clear()
        self._ask_keys.clear()

    def load(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Replace the whole book with a snapshot; levels of size 0 are ignored."""
        self._bids = {price: size for price, size in bids if size}
        self._asks = {price: size for price, size in asks if size}
        self._bid_keys = sorted(self._bids)
        self._ask_keys = sorted(-price for price in self._asks)
        self._cap()

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Apply one diff: size 0 deletes the level (absent: no-op), any other size sets it."""
        sizes = self._bids
        keys = self._bid_keys
        for price, size in bids:
            if size:
                if price not in sizes:
                    insort(keys, price)
                sizes[price] = size
            elif price in sizes:
                del sizes[price]
                del keys[bisect_left(keys, price)]
        sizes = self._asks
        keys = self._ask_keys
        for price, size in asks:
            if size:
                if price not in sizes:
                    insort(keys, -price)
                sizes[price] = size
            elif price in sizes:
                del sizes[price]
                del keys[bisect_left(keys, -price)]
        cap = self.max_depth
        if cap and (len(self._bid_keys) > cap or len(self._ask_keys) > cap):
            self._cap()

    def _cap(self) -> None:
        """Drop the worst levels of a side longer than max_depth (they sit at the front)."""
        cap = self.max_depth
        if not cap:
            return
        excess = len(self._bid_keys) - cap
        if excess > 0:
            bids = self._bids
            for price in self._bid_keys[:excess]:
                del bids[price]
            del self._bid_keys[:excess]
        excess = len(self._ask_keys) - cap
        if excess > 0:
            asks = self._asks
            for key in self._ask_keys[:excess]:
                del asks[-key]
            del self._ask_keys[:excess]

    def best_bid(self) -> Level | None:
        """Highest bid (price, size), or None when the side is empty."""
        if not self._bid_keys:
            return None
        price = self._bid_keys[-1]
        return price, self._bids[price]

    def best_ask(self) -> Level | None:
        """Lowest ask (price, size), or None when the side is empty."""
        if not self._ask_keys:
            return None
        price = -self._ask_keys[-1]
        return price, self._asks[price]

    def bids(self, n: int = 0) -> list[Level]:
        """The best `n` bids, highest price first; n <= 0 returns every level."""
        sizes = self._bids
        keys = self._bid_keys[::-1] if n <= 0 else self._bid_keys[: -n - 1 : -1]
        return [(price, sizes[price]) for price in keys]

    def asks(self, n: int = 0) -> list[Level]:
        """The best `n` asks, lowest price first; n <= 0 returns every level."""
        sizes = self._asks
        keys = self._ask_keys[::-1] if n <= 0 else self._ask_keys[: -n - 1 : -1]
        return [(-key, sizes[-key]) for key in keys]

    def iter_bids(self) -> Iterator[Level]:
        """Bids best first, lazily (for walks that stop early); do not apply meanwhile."""
        sizes = self._bids
        for price in reversed(self._bid_keys):
            yield price, sizes[price]

    def iter_asks(self) -> Iterator[Level]:
        """Asks best first, lazily (for walks that stop early); do not apply meanwhile."""
        sizes = self._asks
        for key in reversed(self._ask_keys):
            yield -key, sizes[-key]

    @property
    def bid_levels(self) -> int:
        """Number of bid levels held."""
        return len(self._bid_keys)

    @property
    def ask_levels(self) -> int:
        """Number of ask levels held."""
        return len(self._ask_keys)

    def crossed(self) -> bool:
        """Whether best bid >= best ask (False while either side is empty)."""
        if not self._bid_keys or not self._ask_keys:
            return False
        return self._bid_keys[-1] >= -self._ask_keys[-1]

    def mid(self) -> float | None:
        """(best bid + best ask) / 2, or None while either side is empty."""
        if not self._bid_keys or not self._ask_keys:
            return None
        return (self._bid_keys[-1] - self._ask_keys[-1]) / 2.0
