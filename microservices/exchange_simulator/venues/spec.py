"""What an exchange package's simulator dialect declares (`SimulatorDialect`).

Each exchange package with a dialect has a `simulator` module exposing `SIMULATOR`: per URL
venue (path prefix) its dialect classes, routes and REST rules, plus how replay tells its
captures apart. `registry.py` loads them from the exchange registry; nothing here names a venue.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from microservices.exchange_simulator.venues.base import Dialect, RestSpec

if TYPE_CHECKING:
    from microservices.exchange_simulator.config import SimulatorConfig


def _no_weight_limit(config: SimulatorConfig) -> int | None:
    return None


def _same_venue(venue: str, item: Mapping[str, Any]) -> str:
    return venue


@dataclass(frozen=True, slots=True)
class SimVenue:
    """What the simulator serves under one URL venue's path prefix `/<url_venue>`."""

    url_venue: str
    dialects: tuple[type[Dialect], ...]  # one per market venue served there
    routes: Callable[[], list[web.RouteDef]]  # WebSocket and REST routes under the prefix
    rest: RestSpec
    # REST request weight allowed per minute (None: unlimited), from the simulator's config
    weight_limit: Callable[[SimulatorConfig], int | None] = _no_weight_limit


@dataclass(frozen=True, slots=True)
class SimulatorDialect:
    """An exchange package's dialect: its URL venues, and how replay recognises its captures."""

    venues: tuple[SimVenue, ...]
    # market venue of a capture URL (lower-case host, path: real hosts or our prefixes), or None
    capture_venue: Callable[[str, str], str | None]
    # the market venue of one capture line, given the venue its URL or file path suggested
    frame_venue: Callable[[str, Mapping[str, Any]], str] = _same_venue
