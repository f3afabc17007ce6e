"""Bybit's dialect in the exchange simulator: linear and spot under `/bybit` (WebSocket in
`ws.py` and `frames.py`, REST in `rest.py`).

Imported by the simulator only (through the package's `simulator` module path).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from microservices.data_collector.exchanges.bybit.simulator import rest
from microservices.data_collector.exchanges.bybit.simulator.ws import (
    BybitDialect,
    BybitSpotDialect,
)
from microservices.exchange_simulator.venues.spec import SimulatorDialect, SimVenue


def capture_venue(host: str, path: str) -> str | None:
    if "bybit" in host or path.startswith("/bybit"):
        return "bybit_spot" if path.rstrip("/").endswith("/spot") else "bybit"
    return None


def frame_venue(venue: str, item: Mapping[str, Any]) -> str:
    """tardis samples name the spot feed in `src` only."""
    if venue == "bybit" and "spot" in str(item.get("src", "")):
        return "bybit_spot"
    return venue


SIMULATOR: Final = SimulatorDialect(
    venues=(SimVenue("bybit", (BybitDialect, BybitSpotDialect), rest.routes, rest.REST_SPEC),),
    capture_venue=capture_venue,
    frame_venue=frame_venue,
)
