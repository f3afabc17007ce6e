"""Which dialects, routes and REST rules serve each URL venue (`binance`, `bybit`, ...).

Read from the exchange registry at call time: every registered package with a simulator
dialect (its `simulator` module, imported here on first use) serves its URL venues, so a
package registered at run time is served by the next simulator started.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from microservices.data_collector import exchanges
from microservices.exchange_simulator.market import MarketModel
from microservices.exchange_simulator.venues.base import Dialect
from microservices.exchange_simulator.venues.spec import SimulatorDialect, SimVenue

_loaded: dict[str, SimulatorDialect] = {}


def load_dialect(module: str) -> SimulatorDialect:
    """The `SIMULATOR` of an exchange package's simulator module (imported once)."""
    found = _loaded.get(module)
    if found is None:
        found = getattr(importlib.import_module(module), "SIMULATOR", None)
        if not isinstance(found, SimulatorDialect):
            raise TypeError(f"{module}.SIMULATOR is not a SimulatorDialect")
        _loaded[module] = found
    return found


def dialects() -> list[SimulatorDialect]:
    """The dialect of every registered package that has one, in registry order."""
    modules = dict.fromkeys(exchanges.simulators().values())
    return [load_dialect(module) for module in modules]


def sim_venues() -> dict[str, SimVenue]:
    """URL venue -> what the simulator serves under its prefix, in registry order."""
    return {venue.url_venue: venue for d in dialects() for venue in d.venues}


def market_venues(venues: Iterable[str]) -> list[str]:
    """Market venues behind URL venues ('bybit' serves the linear and the spot book)."""
    served = sim_venues()
    return [cls.market_venue for venue in venues for cls in served[venue].dialects]


def build_dialects(venues: Iterable[str], market: MarketModel) -> dict[str, Dialect]:
    """market venue -> dialect instance for the served URL venues."""
    served = sim_venues()
    return {cls.market_venue: cls(market) for venue in venues for cls in served[venue].dialects}


def venue_of_url(url_host: str, url_path: str) -> str | None:
    """Market venue of a capture URL: the first dialect that recognises it."""
    for dialect in dialects():
        venue = dialect.capture_venue(url_host, url_path)
        if venue is not None:
            return venue
    return None


def venue_of_path(path: Path) -> str | None:
    """The URL venue named in a capture's file path (`binance-futures` also counts).

    When several match, names contained in a longer match are dropped (`binance` inside
    `binance_futures`); of the rest the first in registry order wins.
    """
    text = str(path).lower()
    found = {
        needle: venue
        for venue in sim_venues()
        for needle in (venue, venue.replace("_", "-"))
        if needle in text
    }
    for needle, venue in found.items():
        if not any(needle != other and needle in other for other in found):
            return venue
    return None


def frame_venue(venue: str, item: Mapping[str, Any]) -> str:
    """A capture line's market venue, refined by the dialect that serves `venue`."""
    for dialect in dialects():
        if any(venue in (cls.market_venue for cls in v.dialects) for v in dialect.venues):
            return dialect.frame_venue(venue, item)
    return venue
