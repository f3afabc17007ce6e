"""Screens over the venues' 24 h tickers (the stats24h rows, no subscription needed) and the
depth ranking of a symbol's venues. Pure.

"Trending on V": V's instruments with 24 h USD volume above a floor, ranked by 24 h price
change, one per asset (its best instrument), the top N. "But not on W": those whose asset W
does not list, or that are not in W's own top N. "Only listed on V": assets V lists and no
other collected venue does.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from microservices.common.records import NormalizedSnapshot


class Trend(BaseModel):
    asset: str
    venue: str
    venue_symbol: str
    price_change_24h: float = Field(description="percent")
    volume_usd_24h: float
    last: float | None = Field(description="last price, quote units")
    quote: str
    why: str | None = Field(None, description="not on W: not_listed | not_in_top")


class Depth(BaseModel):
    venue: str
    bid_depth_10bps: float = Field(description="USD within 10 bps of the venue's mid")
    ask_depth_10bps: float
    total_10bps: float


def _of(rows: Iterable[Mapping[str, Any]], venues: Collection[str]) -> list[Mapping[str, Any]]:
    return [row for row in rows if row.get("venue") in venues]


def trending(
    rows: Iterable[Mapping[str, Any]], venues: Collection[str], min_volume_usd: float, top_n: int
) -> list[Trend]:
    """The top `top_n` assets of `venues` by 24 h price change (volume above the floor)."""
    best: dict[str, Trend] = {}
    for row in _of(rows, venues):
        change, volume = row.get("price_change_24h"), row.get("volume_usd_24h")
        if not isinstance(change, int | float) or not isinstance(volume, int | float):
            continue
        if volume <= min_volume_usd:
            continue
        trend = Trend(asset=row["base"], venue=row["venue"], venue_symbol=row["venue_symbol"],
                      price_change_24h=change, volume_usd_24h=volume, last=row.get("last"),
                      quote=row.get("quote", ""), why=None)  # fmt: skip
        held = best.get(trend.asset)
        if held is None or trend.price_change_24h > held.price_change_24h:
            best[trend.asset] = trend
    ranked = sorted(best.values(), key=lambda t: (-t.price_change_24h, t.asset))
    return ranked[:top_n]


def not_on(
    trends: list[Trend],
    rows: Sequence[Mapping[str, Any]],
    others: Collection[str],
    min_volume_usd: float,
    top_n: int,
) -> list[Trend]:
    """`trends` whose asset the `others` venues do not list, or that is not in their top N
    (only the listing counts when they give no 24 h price change: `ranks_changes`)."""
    listed = {row["base"] for row in _of(rows, others)}
    top = {t.asset for t in trending(rows, others, min_volume_usd, top_n)}
    ranked = ranks_changes(rows, others)
    out = []
    for trend in trends:
        if trend.asset not in listed:
            out.append(trend.model_copy(update={"why": "not_listed"}))
        elif ranked and trend.asset not in top:
            out.append(trend.model_copy(update={"why": "not_in_top"}))
    return out


def ranks_changes(rows: Iterable[Mapping[str, Any]], venues: Collection[str]) -> bool:
    """Whether any row of `venues` has a 24 h price change (Coinbase gives none)."""
    return any(isinstance(row.get("price_change_24h"), int | float) for row in _of(rows, venues))


def only_on(rows: Sequence[Mapping[str, Any]], venues: Collection[str]) -> list[str]:
    """Assets listed on `venues` and on no other venue of the rows, sorted."""
    here = {row["base"] for row in _of(rows, venues)}
    elsewhere = {row["base"] for row in rows if row.get("venue") not in venues}
    return sorted(here - elsewhere)


def rank_depth(snap: NormalizedSnapshot | None, ok: Collection[str]) -> list[Depth]:
    """The `ok` venues of the entry by USD depth within 10 bps (bid + ask), deepest first;
    venues without a fresh book (no depth) are left out."""
    if snap is None:
        return []
    out = []
    for venue, quote in snap.venues.items():
        bid, ask = quote.bid_depth_10bps, quote.ask_depth_10bps
        if venue in ok and bid is not None and ask is not None:
            out.append(Depth(venue=venue, bid_depth_10bps=bid, ask_depth_10bps=ask,
                             total_10bps=bid + ask))  # fmt: skip
    return sorted(out, key=lambda d: (-d.total_10bps, d.venue))
