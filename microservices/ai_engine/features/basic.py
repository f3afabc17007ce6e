"""Seed-000 features read straight off one snapshot: calendar, venue ratio, activity flags.

Stateless and pure (integer arithmetic on `ts_ms`, no datetime or clock reads).
"""

from __future__ import annotations

from typing import Final

from microservices.common.records import NormalizedSnapshot, VenueQuote

_MS_PER_HOUR: Final = 3_600_000
_MS_PER_DAY: Final = 86_400_000
_EPOCH_WEEKDAY: Final = 3  # 1970-01-01 was a Thursday (Monday = 0)
FUTURES_SUFFIX: Final = "_futures"


def hour_utc(ts_ms: int) -> float:
    """Hour of day 0-23 in UTC."""
    return float(ts_ms // _MS_PER_HOUR % 24)


def day_of_week(ts_ms: int) -> float:
    """Day of week in UTC, 0 = Monday .. 6 = Sunday."""
    return float((ts_ms // _MS_PER_DAY + _EPOCH_WEEKDAY) % 7)


def pair_venue(venues: dict[str, VenueQuote], name: str) -> VenueQuote | None:
    """The venue's quote, falling back to "<name>_futures" (binance -> binance_futures)."""
    quote = venues.get(name)
    if quote is None:
        quote = venues.get(name + FUTURES_SUFFIX)
    return quote


def venue_ratio(snap: NormalizedSnapshot, pair: tuple[str, str]) -> float:
    """binance_bybit_ratio: price of pair[0] (or pair[0]_futures) / price of pair[1];
    1.0 when either side is missing from the snapshot."""
    first = pair_venue(snap.venues, pair[0])
    second = snap.venues.get(pair[1])
    if first is None or second is None or not second.price > 0.0:
        return 1.0
    return first.price / second.price


def all_exchanges_active(snap: NormalizedSnapshot, expected: int) -> float:
    """1.0 when num_exchanges >= expected and no venue was excluded, else 0.0."""
    return 1.0 if snap.num_exchanges >= expected and not snap.excluded else 0.0
