"""Build the configured venues from settings (endpoints come from `<VENUE>_WS_URL/_REST_URL`)."""

from __future__ import annotations

from microservices.common.settings import Settings
from microservices.data_collector.exchanges import EXCHANGES, endpoint_prefix
from microservices.data_collector.exchanges.base import Exchange


def build_exchange(venue: str, settings: Settings) -> Exchange:
    prefix = endpoint_prefix(venue)
    cls = EXCHANGES[venue]
    return cls(
        settings.symbols,
        ws_url=getattr(settings, f"{prefix}_ws_url"),
        rest_url=getattr(settings, f"{prefix}_rest_url"),
    )


def build_exchanges(settings: Settings) -> dict[str, Exchange]:
    return {venue: build_exchange(venue, settings) for venue in settings.venues}
