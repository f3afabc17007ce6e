"""Venues ranked for a trade (seed 004's find_best_price). Pure.

By price: each `ok` venue's top quote in USD from the newest normalized entry (a buy ranks
the asks lowest first, a sell the bids highest first). By execution cost for a notional: the
cost engine's per-venue walk of the full books (`cost_by_venue`), ranked by the average price
after the taker fee; a venue whose book cannot fill the whole notional ranks after those that
can. `spread_pct` / `spread_bps` are how much worse than the best a venue is (>= 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, Field

from microservices.common.orderbook.cost import ExecutionCost, TradeSide

RankBy = Literal["price", "cost"]


class RankedVenue(BaseModel):
    venue: str
    price: float = Field(description="USD: the top quote, or the average fill after the fee")
    spread_pct: float = Field(description="percent worse than the best venue")
    spread_bps: float
    age_s: float | None = Field(description="age of the quote (price ranking)")
    cost_bps: float | None = Field(description="price cost vs the venue's mid (cost ranking)")
    fee_bps: float | None
    filled_usd: float | None = Field(description="USD the venue's book fills (cost ranking)")
    complete: bool = Field(description="the whole notional fills on this venue")


def _spread(price: float, best: float, side: TradeSide) -> tuple[float, float]:
    worse = (price - best) if side == "buy" else (best - price)
    fraction = worse / best if best else 0.0
    return fraction * 100.0, fraction * 1e4


def rank_quotes(
    quotes: Iterable[tuple[str, float, float | None]], side: TradeSide
) -> list[RankedVenue]:
    """(venue, USD price of the side's top quote, its age in s) -> best first (ties by venue)."""
    ordered = sorted(quotes, key=lambda q: (q[1] if side == "buy" else -q[1], q[0]))
    if not ordered:
        return []
    best = ordered[0][1]
    out = []
    for venue, price, age_s in ordered:
        pct, bps = _spread(price, best, side)
        out.append(RankedVenue(venue=venue, price=price, spread_pct=pct, spread_bps=bps,
                               age_s=age_s, cost_bps=None, fee_bps=None, filled_usd=None,
                               complete=True))  # fmt: skip
    return out


def effective_price(cost: ExecutionCost) -> float | None:
    """Average fill price after the taker fee: a buy pays it on top, a sell receives less."""
    if cost.avg_price is None:
        return None
    fee = cost.fee_bps / 1e4
    return cost.avg_price * (1 + fee) if cost.side == "buy" else cost.avg_price * (1 - fee)


def rank_costs(per_venue: Mapping[str, ExecutionCost], side: TradeSide) -> list[RankedVenue]:
    """The per-venue walks -> best first: complete fills by effective price, then partial
    ones by the same rule; venues that fill nothing are left out."""
    rows = [(v, c, p) for v, c in per_venue.items() if (p := effective_price(c)) is not None]
    rows.sort(key=lambda r: (r[1].remainder > 0, r[2] if side == "buy" else -r[2], r[0]))
    if not rows:
        return []
    best = rows[0][2]
    out = []
    for venue, cost, price in rows:
        pct, bps = _spread(price, best, side)
        out.append(RankedVenue(venue=venue, price=price, spread_pct=pct, spread_bps=bps,
                               age_s=None, cost_bps=cost.cost_bps, fee_bps=cost.fee_bps,
                               filled_usd=cost.notional_filled,
                               complete=cost.remainder == 0.0))  # fmt: skip
    return out
