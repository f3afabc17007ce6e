"""StandardizedMarketData (seed 004): one symbol's price, 24 h statistics and per-venue
values, answered by the first healthy venue of the preferred order. Pure.

A venue is `ok` when the newest exchange.normalized entry of the symbol includes it and its
price is at most `stale_after_ms` old now (the entry's age of the price plus the time since
the entry); `stale` when older (or excluded as stale by the aggregator), `outlier` when the
aggregator left it out as one, `absent` when the entry does not have it at all, and `down`
(whatever its price's age) while the collector reports its connections `disconnected` or
`silent` (`DOWN_STATES`), so the fallback does not wait for the price to age; an `ok` venue is
`degraded` while the collector reports its REST answers refused (a 429/418 Retry-After window
or an open circuit after repeated 5xx): the fallback skips it too. Prices are
USD (stablecoin legs converted as the aggregator does); 24 h statistics come from the
collector's stats24h hash for the venue's followed instrument.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from microservices.common.records import NormalizedSnapshot

VenueHealth = Literal["ok", "down", "degraded", "stale", "outlier", "absent"]
DOWN_STATES = frozenset({"disconnected", "silent"})  # collector /health states counted down
STAT_NAMES = ("volume_24h", "quote_volume_24h", "volume_usd_24h", "price_change_24h")


class VenueMarket(BaseModel):
    """One venue's values for a symbol."""

    venue: str
    status: VenueHealth = Field(
        description="ok | down | degraded (REST refused: 429/418 window or open circuit) | "
        "stale | outlier | absent"
    )
    venue_symbol: str | None = Field(description="the venue's followed instrument")
    price: float | None = Field(description="last price in USD")
    bid: float | None
    ask: float | None
    age_s: float | None = Field(description="seconds since the price was received")
    volume_24h: float | None = Field(description="24 h volume, base units")
    quote_volume_24h: float | None = Field(description="24 h volume, quote units")
    volume_usd_24h: float | None
    price_change_24h: float | None = Field(description="percent; null where not given")
    stats_age_s: float | None = Field(description="seconds since the 24 h stats were fetched")


class MarketData(BaseModel):
    """StandardizedMarketData: the answer of the first healthy venue of `order`."""

    symbol: str
    venue: str = Field(description="the venue that answered")
    price: float = Field(description="its last price, USD")
    bid: float | None
    ask: float | None
    volume_24h: float | None = Field(description="its 24 h volume, base units")
    quote_volume_24h: float | None
    volume_usd_24h: float | None
    price_change_24h: float | None = Field(description="its 24 h change, percent")
    total_volume_usd_24h: float | None = Field(description="summed over the venues with stats")
    best_bid: float | None = Field(description="NBBO bid across the ok venues, USD")
    best_bid_venue: str | None
    best_ask: float | None
    best_ask_venue: str | None
    observed_ms: int = Field(description="when the answering price was received (epoch ms)")
    age_s: float = Field(description="seconds since then")
    stale: bool = Field(description="true: every venue is down or stale; last good value")
    order: list[str] = Field(description="the order venues were tried in")
    venues: list[VenueMarket]


def venue_health(
    snap: NormalizedSnapshot | None, venue: str, now_ms: int, stale_after_ms: int
) -> tuple[VenueHealth, float | None]:
    """(status, age of its price in seconds now) of one venue in the newest entry."""
    if snap is None:
        return "absent", None
    quote = snap.venues.get(venue)
    if quote is None:
        reason = snap.excluded.get(venue)
        return ("outlier" if reason == "outlier" else "stale") if reason else "absent", None
    age_ms = quote.age_ms + max(now_ms - snap.ts_ms, 0)
    return ("ok" if age_ms <= stale_after_ms else "stale"), age_ms / 1000.0


def venue_values(
    snap: NormalizedSnapshot | None,
    venue: str,
    stat: Mapping[str, Any] | None,
    now_ms: int,
    stale_after_ms: int,
    down: bool = False,
    degraded: bool = False,
) -> VenueMarket:
    """One venue's row: its quote from the entry and its 24 h statistics (`stat`, the JSON of
    its stats24h field, or None); `down`: the collector reports it down; `degraded`: its REST
    answers are refused (a Retry-After window or an open circuit)."""
    status, age_s = venue_health(snap, venue, now_ms, stale_after_ms)
    if down:
        status = "down"
    elif degraded and status == "ok":
        status = "degraded"
    quote = None if snap is None else snap.venues.get(venue)
    stats = {name: _number(stat, name) for name in STAT_NAMES}
    fetched = _number(stat, "ts_ms")
    return VenueMarket(
        venue=venue, status=status,
        venue_symbol=None if stat is None else stat.get("venue_symbol"),
        price=None if quote is None else quote.price,
        bid=None if quote is None else quote.bid, ask=None if quote is None else quote.ask,
        age_s=age_s, stats_age_s=None if fetched is None else max(now_ms - fetched, 0) / 1e3,
        **stats,
    )  # fmt: skip


def _number(stat: Mapping[str, Any] | None, name: str) -> float | None:
    value = None if stat is None else stat.get(name)
    return float(value) if isinstance(value, int | float) else None


def build_market(
    symbol: str,
    snap: NormalizedSnapshot | None,
    stats: Mapping[str, Mapping[str, Any]],
    order: Sequence[str],
    now_ms: int,
    stale_after_ms: int,
    down: Collection[str] = (),
    degraded: Collection[str] = (),
) -> tuple[MarketData | None, list[VenueMarket]]:
    """(the answer of the first `ok` venue of `order`, or None when none is; every venue's
    row). `stats`: venue -> its stats24h JSON for the symbol; `down`: venues the collector
    reports down; `degraded`: venues whose REST answers it reports refused."""
    rows = [
        venue_values(snap, v, stats.get(v), now_ms, stale_after_ms, v in down, v in degraded)
        for v in order
    ]
    first = next((row for row in rows if row.status == "ok"), None)
    if first is None or first.price is None or first.age_s is None:
        return None, rows
    ok = [row for row in rows if row.status == "ok"]
    bids = [(row.bid, row.venue) for row in ok if row.bid is not None]
    asks = [(row.ask, row.venue) for row in ok if row.ask is not None]
    best_bid = max(bids, key=lambda item: item[0], default=(None, None))
    best_ask = min(asks, key=lambda item: item[0], default=(None, None))
    volumes = [row.volume_usd_24h for row in rows if row.volume_usd_24h is not None]
    return MarketData(
        symbol=symbol, venue=first.venue, price=first.price, bid=first.bid, ask=first.ask,
        volume_24h=first.volume_24h, quote_volume_24h=first.quote_volume_24h,
        volume_usd_24h=first.volume_usd_24h, price_change_24h=first.price_change_24h,
        total_volume_usd_24h=sum(volumes) if volumes else None,
        best_bid=best_bid[0], best_bid_venue=best_bid[1],
        best_ask=best_ask[0], best_ask_venue=best_ask[1],
        observed_ms=now_ms - round(first.age_s * 1000), age_s=first.age_s, stale=False,
        order=list(order), venues=rows,
    ), rows  # fmt: skip


def stale_copy(last: MarketData, rows: list[VenueMarket], now_ms: int) -> MarketData:
    """The last good answer served when no venue is ok: marked stale, aged to now, with the
    venues' current rows."""
    age_s = max(now_ms - last.observed_ms, 0) / 1000.0
    return last.model_copy(update={"stale": True, "age_s": age_s, "venues": rows})
