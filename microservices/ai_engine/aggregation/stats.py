"""Small exact statistics over a handful of venue values (O(venues), no numpy overhead).

Pure functions used by the snapshot builder: price summary, funding aggregates and the
cross-venue best bid/ask. No I/O, no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from microservices.common.records import VenueQuote


def median(values: list[float]) -> float:
    """Median of a non-empty list (mean of the two middle values for an even count)."""
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    if n % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) * 0.5


@dataclass(frozen=True, slots=True)
class PriceSummary:
    mean: float
    median: float
    pstd: float  # population standard deviation (ddof=0), quote units
    spread_frac: float  # (max - min) / median, a fraction


def summarize_prices(prices: list[float]) -> PriceSummary:
    """Mean, median, population std and (max - min) / median of a non-empty price list."""
    n = len(prices)
    mean = math.fsum(prices) / n
    var = math.fsum((p - mean) ** 2 for p in prices) / n
    med = median(prices)
    return PriceSummary(
        mean=mean,
        median=med,
        pstd=math.sqrt(var),
        spread_frac=(max(prices) - min(prices)) / med,
    )


def funding_aggregates(rates_8h_pct: list[float]) -> tuple[float, float]:
    """(avg_funding_rate, funding_delta) of per-venue funding in percent per 8 h (SPEC 4).

    avg_funding_rate is the mean. funding_delta is the spread max - min carrying the sign of
    the mean: positive when longs pay on balance, negative when shorts pay, 0.0 when the mean
    is exactly 0. (0, 0) without venues; funding_delta is 0 with fewer than two venues.
    E.g. [0.01, 0.03] -> (0.02, +0.02); [-0.01, -0.05] -> (-0.03, -0.04).
    """
    if not rates_8h_pct:
        return 0.0, 0.0
    avg = math.fsum(rates_8h_pct) / len(rates_8h_pct)
    if len(rates_8h_pct) < 2 or avg == 0.0:
        return avg, 0.0
    spread = max(rates_8h_pct) - min(rates_8h_pct)
    return avg, spread if avg > 0.0 else -spread


@dataclass(frozen=True, slots=True)
class Nbbo:
    best_bid: float | None = None
    best_bid_exchange: str | None = None
    best_ask: float | None = None
    best_ask_exchange: str | None = None
    arb_bps: float = 0.0
    best_bid_size: float | None = None  # summed over venues at exactly best_bid
    best_ask_size: float | None = None


def _size_at(quotes: dict[str, VenueQuote], price: float | None, side: str) -> float | None:
    """Base units quoted at exactly `price` on `side` ("bid"/"ask") over the venues that give
    both sides and their sizes; None without a price or when no such venue has a size."""
    if price is None:
        return None
    sizes = []
    for q in quotes.values():
        if q.bid is None or q.ask is None:
            continue
        quoted, size = (q.bid, q.bid_size) if side == "bid" else (q.ask, q.ask_size)
        if quoted == price and size is not None:
            sizes.append(size)
    return math.fsum(sizes) if sizes else None


def nbbo(quotes: dict[str, VenueQuote]) -> Nbbo:
    """Best bid (max) and best ask (min) over venues quoting both sides, with the sizes
    quoted at those prices (summed when several venues quote exactly the best price).

    Iteration order breaks ties (the first venue keeps the best price), so pass quotes in a
    deterministic order. USD and USDT books are compared as-is: the two quotes are treated as
    equal. arb_bps = (best_bid - best_ask) / ((best_bid + best_ask) / 2) * 1e4 when the best
    bid exceeds the best ask on a different venue, else 0.0.
    """
    bid: float | None = None
    ask: float | None = None
    bid_venue: str | None = None
    ask_venue: str | None = None
    for venue, quote in quotes.items():
        if quote.bid is None or quote.ask is None:
            continue
        if bid is None or quote.bid > bid:
            bid, bid_venue = quote.bid, venue
        if ask is None or quote.ask < ask:
            ask, ask_venue = quote.ask, venue
    arb = 0.0
    if bid is not None and ask is not None and bid > ask and bid_venue != ask_venue:
        arb = (bid - ask) / ((bid + ask) * 0.5) * 1e4
    return Nbbo(
        bid, bid_venue, ask, ask_venue, arb, _size_at(quotes, bid, "bid"),
        _size_at(quotes, ask, "ask"),
    )  # fmt: skip
