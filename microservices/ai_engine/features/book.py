"""Features of the venues' L2 books from one snapshot (issue 13): consolidated depth and its
imbalance within 10 bps, and the NBBO microprice against the NBBO mid. Each returns a finite
float with a documented fallback (0.0 without books); none keeps state. Pure: the depth math
is `common.orderbook.depth`'s.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from microservices.common.orderbook.book import OrderBook
from microservices.common.orderbook.depth import imbalance, microprice
from microservices.common.records import NormalizedSnapshot, VenueQuote


def depth_10bps_usd(quotes: Iterable[VenueQuote]) -> tuple[float, float]:
    """(bid, ask) USD depth within 10 bps of each venue's mid, summed over the venues whose
    snapshot carries both (a fresh book with a USD price of its quote); (0.0, 0.0) without."""
    bids: list[float] = []
    asks: list[float] = []
    for q in quotes:
        if q.bid_depth_10bps is not None and q.ask_depth_10bps is not None:
            bids.append(q.bid_depth_10bps)
            asks.append(q.ask_depth_10bps)
    return math.fsum(bids), math.fsum(asks)


def microprice_offset_bps(snap: NormalizedSnapshot) -> float:
    """(microprice - mid) / mid * 1e4 of the NBBO: microprice = (bid * ask_size + ask *
    bid_size) / (bid_size + ask_size) over the best prices and the sizes quoted there, mid =
    (bid + ask) / 2. Positive when more size rests on the bid (the price leans up). 0.0
    without both prices and positive sizes."""
    bid, ask = snap.best_bid, snap.best_ask
    bid_size, ask_size = snap.best_bid_size, snap.best_ask_size
    if bid is None or ask is None or bid_size is None or ask_size is None:
        return 0.0
    if not (bid_size > 0.0 and ask_size > 0.0 and bid + ask > 0.0):
        return 0.0
    top = OrderBook()
    top.load([(bid, bid_size)], [(ask, ask_size)])
    micro = microprice(top)
    mid = (bid + ask) * 0.5
    return 0.0 if micro is None else (micro - mid) / mid * 1e4


def book_features(snap: NormalizedSnapshot) -> dict[str, float]:
    """book_imbalance_10bps: (bid - ask) / (bid + ask) of the summed USD depth within 10 bps
    (0.0 without depth); consolidated_depth_usd_10bps: bid + ask of that sum, USD (0.0
    without); microprice_offset_bps (above)."""
    bid, ask = depth_10bps_usd(snap.venues.values())
    return {
        "book_imbalance_10bps": imbalance(bid, ask),
        "consolidated_depth_usd_10bps": bid + ask,
        "microprice_offset_bps": microprice_offset_bps(snap),
    }
