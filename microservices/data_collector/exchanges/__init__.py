"""The exchange registry: one line per exchange package; every venue list derives from it.

Adding an exchange is its package (`exchanges/<exchange>/`, exposing `PACKAGE`, with venue
ids `<exchange>` or `<exchange>_<market>`) and one entry in `PACKAGE_MODULES`. Settings, the
collector, the runner, the simulator, `normalize`, `backfill`, the test helpers and the
benchmarks read venues, endpoint settings and simulator dialects from the functions below;
`register()`/`registered()` add a package at run time (tests).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Final

from microservices.data_collector.exchanges.base import Exchange
from microservices.data_collector.exchanges.package import (
    EndpointKind,
    EndpointSetting,
    ExchangePackage,
    PolledVenue,
    SimulatedMarket,
    UrlVenue,
    VenueSpec,
)
from microservices.data_collector.exchanges.package_registry import PackageRegistry

# The registry: one line per exchange package, `exchanges/<name>/` exposing `PACKAGE`.
PACKAGE_MODULES: Final = (
    "binance",
    "bybit",
    "coinbase",
    "bitget",
    "deribit",
    "gateio",
    "kucoin",
    "okx",
    "cme",
)


def _load(name: str) -> ExchangePackage:
    package: ExchangePackage = importlib.import_module(f"{__name__}.{name}").PACKAGE
    return package


# imports the packages on first use (`package_registry`: one venue's class imports only its own)
REGISTRY: Final = PackageRegistry(PACKAGE_MODULES, _load)
# venue id -> Exchange class (a live view: packages registered later appear in it)
EXCHANGES: Final[Mapping[str, type[Exchange]]] = REGISTRY.exchanges()
register = REGISTRY.register
unregister = REGISTRY.unregister
registered = REGISTRY.registered


def packages() -> tuple[ExchangePackage, ...]:
    return REGISTRY.packages()


def venue_specs() -> Mapping[str, VenueSpec]:
    """venue id -> VenueSpec of every registered venue, in registration order."""
    return REGISTRY.venues()


def venue_ids() -> tuple[str, ...]:
    return tuple(REGISTRY.venues())


def default_venues() -> list[str]:
    """What VENUES defaults to: the venues whose spec says `default=True`."""
    return [venue for venue, spec in REGISTRY.venues().items() if spec.default]


def polled_venues() -> Mapping[str, PolledVenue]:
    """venue id -> spec of every delayed, polled venue (CME settlements): not in `venue_specs`,
    no WebSocket, never part of a symbol's freshness."""
    return REGISTRY.polled_venues()


def polled_simulators() -> Mapping[str, str]:
    """Polled venue -> module of its simulator routes (served under `/<venue>`)."""
    return REGISTRY.polled_simulators()


def venues_with(feature: str) -> tuple[str, ...]:
    """Venues whose `has` map says they serve `feature` ("funding", "open_interest", ...)."""
    return tuple(venue for venue, spec in REGISTRY.venues().items() if spec.has[feature])


def url_venues() -> Mapping[str, UrlVenue]:
    """URL venue -> its endpoint settings (one per simulator path prefix)."""
    return REGISTRY.url_venues()


def endpoint_settings() -> tuple[EndpointSetting, ...]:
    """Every registered endpoint setting (BINANCE_WS_URL, ...), in registration order."""
    return REGISTRY.endpoint_settings()


def endpoint_setting(venue: str, kind: EndpointKind) -> EndpointSetting:
    return REGISTRY.endpoint_setting(venue, kind)


def simulators() -> Mapping[str, str]:
    """URL venue -> module path of the simulator dialect serving it (loaded on demand)."""
    return REGISTRY.simulators()


def simulator_endpoints(
    http_base: str, ws_base: str, served: Iterable[str] | None = None
) -> dict[str, str]:
    """Endpoint setting name -> the simulator's URL for it (path prefix `/<url venue>`), for
    the URL venues `served` (default: every one with a simulator dialect)."""
    urls = REGISTRY.url_venues()
    out: dict[str, str] = {}
    for name in REGISTRY.simulators() if served is None else served:
        out[urls[name].ws.name] = f"{ws_base}/{name}"
        out[urls[name].rest.name] = f"{http_base}/{name}"
    return out


__all__ = [
    "EXCHANGES",
    "PACKAGE_MODULES",
    "REGISTRY",
    "EndpointKind",
    "EndpointSetting",
    "ExchangePackage",
    "PolledVenue",
    "SimulatedMarket",
    "UrlVenue",
    "VenueSpec",
    "default_venues",
    "endpoint_setting",
    "endpoint_settings",
    "packages",
    "polled_simulators",
    "polled_venues",
    "register",
    "registered",
    "simulator_endpoints",
    "simulators",
    "unregister",
    "url_venues",
    "venue_ids",
    "venue_specs",
    "venues_with",
]
