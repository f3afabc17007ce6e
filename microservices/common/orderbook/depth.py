"""Depth metrics of one book: notional near mid, imbalance, microprice.

Pure: plain functions over `OrderBook` or level lists; no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from microservices.common.orderbook.book import Level, OrderBook

# A level quoted exactly `bps` from mid in decimal (99.9 against 100 at 10 bps) can land a few
# ulps outside the band in binary floats; this relative slack keeps such a level inside.
BAND_SLACK: float = 1e-9


def depth_within_bps(levels: Iterable[Level], mid: float, bps: float) -> float:
    """Notional in QUOTE units (sum of price * size) of the levels within `bps` of `mid`.

    Both band edges are inclusive: a level counts when |price - mid| <= mid * bps / 10,000.
    `levels` is one side, best first (`OrderBook.bids()` / `asks()`); the sum stops at the
    first level beyond the band. 0.0 for an empty side or a non-positive `bps`.
    """
    if bps <= 0.0:
        return 0.0
    band = mid * bps / 10_000.0 * (1.0 + BAND_SLACK)
    notional = []
    for price, size in levels:
        if abs(price - mid) > band:
            break
        notional.append(price * size)
    return math.fsum(notional)


def book_depth_within_bps(book: OrderBook, bps: float) -> tuple[float, float] | None:
    """(bid, ask) notional in quote units within `bps` of the book's mid; None without a mid."""
    mid = book.mid()
    if mid is None:
        return None
    bids = depth_within_bps(book.iter_bids(), mid, bps)
    return bids, depth_within_bps(book.iter_asks(), mid, bps)


def imbalance(bid_depth: float, ask_depth: float) -> float:
    """(bid - ask) / (bid + ask) in [-1, 1]: +1 all bids, -1 all asks; 0.0 when both are 0."""
    total = bid_depth + ask_depth
    if total == 0.0:
        return 0.0
    return (bid_depth - ask_depth) / total


def microprice(book: OrderBook) -> float | None:
    """Size-weighted mid: (bid * ask_size + ask * bid_size) / (bid_size + ask_size).

    It leans towards the side with less size (where the next trade is likelier to move the
    price). None unless both sides have a level.
    """
    bid = book.best_bid()
    ask = book.best_ask()
    if bid is None or ask is None:
        return None
    (bid_price, bid_size), (ask_price, ask_size) = bid, ask
    return (bid_price * ask_size + ask_price * bid_size) / (bid_size + ask_size)
