"""Cross-venue features computed from one snapshot alone (seed 003: dislocation, arbitrage,
volume, depth). Each function returns a finite float with a documented fallback for missing
data; none keeps state. Pure: standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from microservices.common.records import NormalizedSnapshot, VenueQuote


def _mean_pstd(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = math.fsum(values) / n
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / n)


def price_dispersion(prices: list[float]) -> float:
    """Coefficient of variation of venue prices: population std / mean (a fraction).
    0.0 with fewer than two venues."""
    if len(prices) < 2:
        return 0.0
    mean, std = _mean_pstd(prices)
    return std / mean if mean > 0.0 else 0.0


def max_price_spread_bps(prices: list[float]) -> float:
    """(max - min) / mean of venue prices, in basis points; 0.0 with fewer than two venues."""
    if len(prices) < 2:
        return 0.0
    mean = math.fsum(prices) / len(prices)
    return (max(prices) - min(prices)) / mean * 1e4 if mean > 0.0 else 0.0


def price_entropy(prices: list[float]) -> float:
    """Normalized Shannon entropy of how the price dislocation is shared among venues.

    Weights w_i = |p_i - median| / Σ_j |p_j - median|; value = -Σ w_i ln w_i / ln(n), in
    [0, 1]. 1.0: every venue is equally far from the median (broad disagreement); near 0: one
    venue carries the whole dislocation. 0.0 with fewer than two venues or identical prices.
    """
    n = len(prices)
    if n < 2:
        return 0.0
    ordered = sorted(prices)
    mid = n // 2
    med = ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) * 0.5
    deviations = [abs(p - med) for p in prices]
    total = math.fsum(deviations)
    if not total > 0.0:
        return 0.0
    entropy = -math.fsum(d / total * math.log(d / total) for d in deviations if d > 0.0)
    return min(max(entropy / math.log(n), 0.0), 1.0)


def arbitrage_bps(quotes: Iterable[VenueQuote]) -> list[float]:
    """Positive cross-venue arbitrages in bps: for every ordered pair (i, j), i != j, of venues
    with both bid and ask, (bid_i - ask_j) / ((bid_i + ask_j) / 2) * 1e4 when > 0."""
    books = [(q.bid, q.ask) for q in quotes if q.bid is not None and q.ask is not None]
    found: list[float] = []
    for i, (bid, _) in enumerate(books):
        for j, (_, ask) in enumerate(books):
            if i != j and bid > ask:
                found.append((bid - ask) / ((bid + ask) * 0.5) * 1e4)
    return found


def volume_weights(quotes: Iterable[VenueQuote]) -> list[tuple[float, float]]:
    """(price, volume) of venues with a positive rolling volume."""
    return [(q.price, q.volume) for q in quotes if q.volume is not None and q.volume > 0.0]


def vw_price_dispersion(weighted: list[tuple[float, float]], fallback: float) -> float:
    """Volume-weighted std of prices / volume-weighted mean price.

    Weights are venue volume shares; needs two or more venues with positive volume, otherwise
    returns `fallback` (the unweighted price_dispersion).
    """
    if len(weighted) < 2:
        return fallback
    total = math.fsum(v for _, v in weighted)
    mean = math.fsum(p * v for p, v in weighted) / total
    var = math.fsum(v * (p - mean) ** 2 for p, v in weighted) / total
    return math.sqrt(var) / mean if mean > 0.0 else fallback


def volume_concentration(weighted: list[tuple[float, float]]) -> float:
    """Herfindahl index Σ s_i² of venue volume shares: 1/n for equal volumes, 1.0 when one
    venue has all of it. 0.0 means "no volume data" (no venue with positive volume), a value
    the index can't otherwise take."""
    if not weighted:
        return 0.0
    total = math.fsum(v for _, v in weighted)
    return math.fsum((v / total) ** 2 for _, v in weighted)


def depth_imbalance_ratio(quotes: Iterable[VenueQuote]) -> float:
    """(Σ bid_size - Σ ask_size) / (Σ bid_size + Σ ask_size) over venues reporting both sizes,
    in [-1, 1] (positive: more resting bids). 0.0 when no venue has sizes or they sum to 0."""
    bids = asks = 0.0
    for q in quotes:
        if q.bid_size is not None and q.ask_size is not None:
            bids += q.bid_size
            asks += q.ask_size
    total = bids + asks
    return (bids - asks) / total if total > 0.0 else 0.0


def consolidated_spread_bps(snap: NormalizedSnapshot) -> float:
    """(best_ask - best_bid) / mid * 1e4 of the cross-venue NBBO, mid = (bid + ask) / 2;
    negative when the consolidated book is crossed. 0.0 when either side is missing."""
    bid, ask = snap.best_bid, snap.best_ask
    if bid is None or ask is None or not bid + ask > 0.0:
        return 0.0
    return (ask - bid) / ((ask + bid) * 0.5) * 1e4


def snapshot_features(snap: NormalizedSnapshot) -> dict[str, float]:
    """All single-snapshot seed-003 features, keyed by feature name."""
    quotes = list(snap.venues.values())
    prices = [q.price for q in quotes]
    arbs = arbitrage_bps(quotes)
    weighted = volume_weights(quotes)
    dispersion = price_dispersion(prices)
    return {
        "price_dispersion": dispersion,
        "max_price_spread_bps": max_price_spread_bps(prices),
        "price_entropy": price_entropy(prices),
        "best_arb_opportunity_bps": max(arbs, default=0.0),
        "arb_opportunity_count": float(len(arbs)),
        "avg_arb_profit_bps": math.fsum(arbs) / len(arbs) if arbs else 0.0,
        "vw_price_dispersion": vw_price_dispersion(weighted, dispersion),
        "volume_concentration": volume_concentration(weighted),
        "depth_imbalance_ratio": depth_imbalance_ratio(quotes),
        "consolidated_spread_bps": consolidated_spread_bps(snap),
    }
