"""Build the configured venues from settings (endpoints come from their packages' URL settings).

Each starts with its naming rule's instruments for the explicit SYMBOLS; the collector then
loads the listings and resolves SYMBOLS (`following.py`)."""

from __future__ import annotations

from microservices.common.settings import Settings
from microservices.data_collector.exchanges import EXCHANGES
from microservices.data_collector.exchanges.base import Exchange


def build_exchange(venue: str, settings: Settings) -> Exchange:
    cls = EXCHANGES[venue]
    return cls(
        settings.explicit_symbols(),  # named by the venue's rule until the listings are loaded
        ws_url=settings.endpoint(venue, "ws"),
        rest_url=settings.endpoint(venue, "rest"),
    )


def build_exchanges(settings: Settings) -> dict[str, Exchange]:
    return {venue: build_exchange(venue, settings) for venue in settings.venues}
