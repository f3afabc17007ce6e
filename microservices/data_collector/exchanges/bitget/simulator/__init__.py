"""Bitget's dialect in the exchange simulator: USDT-FUTURES and SPOT under `/bitget`
(WebSocket in `ws.py` and `frames.py`, REST in `rest.py`).

Imported by the simulator only (through the package's `simulator` module path).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from microservices.data_collector.exchanges.bitget.simulator import rest
from microservices.data_collector.exchanges.bitget.simulator.ws import (
    BitgetDialect,
    BitgetSpotDialect,
)
from microservices.exchange_simulator.venues.spec import SimulatorDialect, SimVenue


def capture_venue(host: str, path: str) -> str | None:
    if "bitget" in host or path.startswith("/bitget"):
        return "bitget"
    return None


def frame_venue(venue: str, item: Mapping[str, Any]) -> str:
    """A capture line's market by its frame's instType (tardis samples mix SPOT and
    futures in one file)."""
    frame = str(item.get("frame", ""))
    if venue == "bitget" and '"instType":"SPOT"' in frame:
        return "bitget_spot"
    return venue


SIMULATOR: Final = SimulatorDialect(
    venues=(SimVenue("bitget", (BitgetDialect, BitgetSpotDialect), rest.routes, rest.REST_SPEC),),
    capture_venue=capture_venue,
    frame_venue=frame_venue,
)
