"""Execution cost of buying or selling a USD notional now, per venue and across venues.

A buy walks the asks and a sell the bids, best first, filling whole levels and the last one
fractionally; a notional larger than the book fills what exists and reports the remainder.
Prices are in USD through each venue's `usd_rate` (see consolidated.py). Taker fees (bps per
venue) are reported apart from `cost_bps`, which is the price cost alone. Pure: no I/O, no
clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from microservices.common.orderbook.book import OrderBook
from microservices.common.orderbook.consolidated import ConsolidatedLevel, merged_levels

TradeSide = Literal["buy", "sell"]


@dataclass(frozen=True, slots=True)
class VenueFill:
    """The part of an order one venue fills."""

    notional_usd: float
    base: float  # base units bought or sold on this venue
    levels_used: int
    fee_usd: float  # this venue's taker fee on notional_usd


@dataclass(frozen=True, slots=True)
class ExecutionCost:
    """What filling `notional_requested` USD against the book(s) would cost now.

    `mid` is the venue's mid for one venue and the NBBO mid (best bid and best ask across
    venues) for a consolidated walk, in USD. `cost_bps` is signed so paying worse than mid is
    positive on both sides: buy (avg - mid) / mid * 1e4, sell (mid - avg) / mid * 1e4; it is
    None when nothing filled or there is no mid. `fee_bps` is the fee-weighted average of the
    venues' taker fees over the filled notional, `fee_usd` its amount; neither is in cost_bps.
    `notional_filled` is a float sum and can differ from the request by rounding (~1e-15
    relative) on a complete fill; `remainder` is then exactly 0.0.
    """

    side: TradeSide
    notional_requested: float
    notional_filled: float
    remainder: float  # USD the book(s) could not fill
    base_filled: float
    avg_price: float | None  # USD per base unit: notional_filled / base_filled
    mid: float | None
    cost_bps: float | None
    fee_bps: float
    fee_usd: float
    levels_used: int
    split: dict[str, VenueFill] = field(default_factory=dict)


@dataclass(slots=True)
class _Tally:
    notional: list[float] = field(default_factory=list)
    base: list[float] = field(default_factory=list)


def _walk(levels: Iterable[ConsolidatedLevel], notional: float) -> tuple[dict[str, _Tally], float]:
    """Fill `notional` USD along `levels`; returns the tallies per venue and what is left."""
    tallies: dict[str, _Tally] = {}
    remaining = notional
    for level in levels:
        if remaining <= 0.0:
            break
        full = level.price * level.size
        if full >= remaining:  # the last level: a fraction of it (or exactly all)
            take, base, remaining = remaining, remaining / level.price, 0.0
        else:
            take, base = full, level.size
            remaining -= full
        tally = tallies.get(level.venue)
        if tally is None:
            tally = tallies[level.venue] = _Tally()
        tally.notional.append(take)
        tally.base.append(base)
    return tallies, max(remaining, 0.0)


def _nbbo_mid(books: Mapping[str, OrderBook], rates: Mapping[str, float]) -> float | None:
    """(highest bid + lowest ask) / 2 across the books, in USD; None without both sides."""
    bids = []
    asks = []
    for venue, book in books.items():
        rate = rates.get(venue, 1.0)
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None:
            bids.append(bid[0] * rate)
        if ask is not None:
            asks.append(ask[0] * rate)
    if not bids or not asks:
        return None
    return (max(bids) + min(asks)) / 2.0


def consolidated_cost(
    books: Mapping[str, OrderBook],
    side: TradeSide,
    notional_usd: float,
    *,
    fee_bps: Mapping[str, float] | None = None,
    usd_rate: Mapping[str, float] | None = None,
) -> ExecutionCost:
    """Cost of filling `notional_usd` on the merged ladder of `books` (venue -> book).

    The walk takes the best USD price across venues level by level, so `split` says how much
    notional and base each venue would fill. `fee_bps` and `usd_rate` are per venue (missing:
    0 bps, rate 1.0). A notional <= 0 fills nothing.
    """
    rates = usd_rate or {}
    fees = fee_bps or {}
    ladder = merged_levels(books, "ask" if side == "buy" else "bid", rates)
    tallies, remaining = _walk(ladder, notional_usd)
    split = {
        venue: VenueFill(
            notional_usd=math.fsum(t.notional),
            base=math.fsum(t.base),
            levels_used=len(t.notional),
            fee_usd=math.fsum(t.notional) * fees.get(venue, 0.0) / 10_000.0,
        )
        for venue, t in tallies.items()
    }
    return _result(side, notional_usd, remaining, split, _nbbo_mid(books, rates))


def _result(
    side: TradeSide, requested: float, remaining: float, split: dict[str, VenueFill],
    mid: float | None,
) -> ExecutionCost:  # fmt: skip
    filled = math.fsum(f.notional_usd for f in split.values())
    base = math.fsum(f.base for f in split.values())
    fee_usd = math.fsum(f.fee_usd for f in split.values())
    avg = filled / base if base > 0.0 else None
    cost = None
    if avg is not None and mid is not None:
        cost = (avg - mid if side == "buy" else mid - avg) / mid * 10_000.0
    return ExecutionCost(
        side=side,
        notional_requested=requested,
        notional_filled=filled,
        remainder=remaining,
        base_filled=base,
        avg_price=avg,
        mid=mid,
        cost_bps=cost,
        fee_bps=fee_usd / filled * 10_000.0 if filled > 0.0 else 0.0,
        fee_usd=fee_usd,
        levels_used=sum(f.levels_used for f in split.values()),
        split=split,
    )


def venue_cost(
    book: OrderBook,
    side: TradeSide,
    notional_usd: float,
    *,
    venue: str = "",
    fee_bps: float = 0.0,
    usd_rate: float = 1.0,
) -> ExecutionCost:
    """Cost of filling `notional_usd` on one venue's book (mid: that book's, in USD).

    `split` has the one entry keyed by `venue`; `usd_rate` converts the book's quote to USD.
    """
    return consolidated_cost(
        {venue: book}, side, notional_usd, fee_bps={venue: fee_bps}, usd_rate={venue: usd_rate}
    )


def cost_by_venue(
    books: Mapping[str, OrderBook],
    side: TradeSide,
    notional_usd: float,
    *,
    fee_bps: Mapping[str, float] | None = None,
    usd_rate: Mapping[str, float] | None = None,
) -> dict[str, ExecutionCost]:
    """`venue_cost` of every book, keyed by venue."""
    fees = fee_bps or {}
    rates = usd_rate or {}
    out = {}
    for venue, book in books.items():
        fee, rate = fees.get(venue, 0.0), rates.get(venue, 1.0)
        out[venue] = venue_cost(book, side, notional_usd, venue=venue, fee_bps=fee, usd_rate=rate)
    return out
