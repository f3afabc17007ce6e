"""`GET /api/v1/listings?since=`: the NEW_LISTING, DELISTING and RENAMED alerts the collector's
listing refreshes raised on the `alerts` stream (`data_collector/listing_alerts.py`), oldest
first, optionally of some venues. `since` is an ISO 8601 time, epoch milliseconds or an age
such as `90m`, `24h`, `7d` (default 24h); the stream keeps MAXLEN_MARKET_ALERTS entries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any, Final

from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel, Field

from microservices.ai_engine.market.api import redis_call
from microservices.ai_engine.market.assets import resolve_venues
from microservices.common.clock import iso_utc, now_ms
from microservices.common.errors import SchemaError
from microservices.common.market_alerts import MarketAlert
from microservices.common.schema_fields import parse_iso
from microservices.common.settings import Settings

LISTING_TYPES: Final = frozenset({"NEW_LISTING", "DELISTING", "RENAMED"})
_AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_MS: Final = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
MAX_LISTINGS: Final = 1_000


class ListingEvent(BaseModel):
    timestamp: str = Field(description="ISO time the refresh saw it")
    type: str = Field(description="NEW_LISTING, DELISTING or RENAMED")
    venue: str
    venue_symbol: str
    symbol: str = Field(description="canonical name")
    group: str = Field(description="the symbol it would be followed under")
    market: str
    reason: str


class ListingsResponse(BaseModel):
    since: str
    listings: list[ListingEvent] = Field(description="oldest first")


def since_ms(text: str, now: int) -> int:
    """`text` (ISO time, epoch ms or an age like 24h) as epoch ms; ValueError otherwise."""
    age = _AGE.match(text.strip().lower())
    if age is not None:
        return now - int(float(age.group(1)) * _UNIT_MS[age.group(2)])
    if text.strip().isdigit():
        return int(text.strip())
    try:
        return parse_iso("since", text.strip())
    except SchemaError as exc:
        raise ValueError(f"since: not an ISO time, epoch ms or age (24h): {text!r}") from exc


def _event(alert: MarketAlert) -> ListingEvent:
    data = alert.data
    return ListingEvent(
        timestamp=iso_utc(alert.ts_ms), type=alert.type, venue=alert.venue,
        venue_symbol=str(data.get("venue_symbol", "")), symbol=alert.symbol,
        group=str(data.get("group", "")), market=str(data.get("market", "")),
        reason=alert.reason,
    )  # fmt: skip


def listing_events(alerts: Iterable[MarketAlert], venues: set[str] | None) -> list[ListingEvent]:
    """The listing alerts among `alerts` (of `venues` when given) as events."""
    return [
        _event(a)
        for a in alerts
        if a.type in LISTING_TYPES and (venues is None or a.venue in venues)
    ]


async def read_listings(redis: Any, settings: Settings, since: int, venue: str | None) -> Any:
    """The listing events on the alerts stream since `since` (epoch ms), of the venues the
    word `venue` names (all when None)."""
    stream = settings.streams().market_alerts
    rows: Any = await redis.xrange(stream.name, f"{since}-0", "+", count=stream.maxlen)
    alerts = []
    for _, fields in rows:
        try:
            alerts.append(stream.schema.decode(fields))
        except SchemaError:
            continue
    chosen = None if venue is None else set(resolve_venues(venue, list(settings.venues)))
    return listing_events(alerts, chosen)[-MAX_LISTINGS:]


def add_listings_route(app: FastAPI, redis: Any, settings: Settings) -> None:
    @app.get("/api/v1/listings", summary="New listings and delistings seen by the collector")
    async def listings(
        since: Annotated[str, Query(max_length=40, description="ISO time, epoch ms or 24h")] = (
            "24h"
        ),
        venue: Annotated[
            str | None, Query(pattern=r"^[A-Za-z0-9_.]{2,30}$", description="e.g. kucoin")
        ] = None,
    ) -> ListingsResponse:
        try:
            start = since_ms(since, now_ms())
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        found = await redis_call(read_listings(redis, settings, start, venue))
        return ListingsResponse(since=iso_utc(start), listings=found)
