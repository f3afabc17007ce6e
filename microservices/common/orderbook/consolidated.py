"""Several venues' books of one instrument merged into one ladder per side, venue kept per level.

Prices are in USD: each venue's prices are multiplied by its `usd_rate` (the USD price of the
venue's quote asset, e.g. 0.999 for a USDT pair while USDT trades at 0.999; a venue missing
from the mapping counts 1.0). The caller (the engine, which knows stablecoin prices) supplies
the rates; sizes stay in base units. Pure: no I/O, no clock.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Literal

from microservices.common.orderbook.book import Level, OrderBook

Side = Literal["bid", "ask"]


@dataclass(frozen=True, slots=True)
class ConsolidatedLevel:
    """One venue's level in the merged ladder."""

    price: float  # USD per base unit (venue price * usd_rate)
    size: float  # base units
    venue: str


@dataclass(frozen=True, slots=True)
class ConsolidatedBook:
    """The merged ladders, best first; ties at one price keep the venues' name order."""

    bids: list[ConsolidatedLevel]
    asks: list[ConsolidatedLevel]

    def best_bid(self) -> ConsolidatedLevel | None:
        """The highest bid across venues (the NBB), or None."""
        return self.bids[0] if self.bids else None

    def best_ask(self) -> ConsolidatedLevel | None:
        """The lowest ask across venues (the NBO), or None."""
        return self.asks[0] if self.asks else None

    def mid(self) -> float | None:
        """NBBO mid in USD: (best bid + best ask) / 2 across venues; None without both."""
        if not self.bids or not self.asks:
            return None
        return (self.bids[0].price + self.asks[0].price) / 2.0

    def crossed(self) -> bool:
        """Whether the best bid on some venue is >= the best ask on another (or the same)."""
        if not self.bids or not self.asks:
            return False
        return self.bids[0].price >= self.asks[0].price


def _venue_levels(levels: Iterable[Level], rate: float, venue: str) -> Iterator[ConsolidatedLevel]:
    for price, size in levels:
        yield ConsolidatedLevel(price * rate, size, venue)


def merged_levels(
    books: Mapping[str, OrderBook], side: Side, usd_rate: Mapping[str, float] | None = None
) -> Iterator[ConsolidatedLevel]:
    """The merged ladder of one side, best first, produced lazily (a walk may stop early)."""
    rates = usd_rate or {}
    runs = []
    for venue in sorted(books):
        book = books[venue]
        levels = book.iter_bids() if side == "bid" else book.iter_asks()
        runs.append(_venue_levels(levels, rates.get(venue, 1.0), venue))
    if side == "bid":
        return heapq.merge(*runs, key=_neg_price)
    return heapq.merge(*runs, key=_price)


def _price(level: ConsolidatedLevel) -> float:
    return level.price


def _neg_price(level: ConsolidatedLevel) -> float:
    return -level.price


def consolidate(
    books: Mapping[str, OrderBook], usd_rate: Mapping[str, float] | None = None, depth: int = 0
) -> ConsolidatedBook:
    """Merge `books` (venue -> book) into one ladder per side in USD prices.

    `depth` > 0 keeps that many merged levels per side (0 = every level of every book).
    """
    bids = merged_levels(books, "bid", usd_rate)
    asks = merged_levels(books, "ask", usd_rate)
    if depth > 0:
        return ConsolidatedBook(list(islice(bids, depth)), list(islice(asks, depth)))
    return ConsolidatedBook(list(bids), list(asks))
