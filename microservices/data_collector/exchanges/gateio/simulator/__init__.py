"""Gate.io's dialect in the exchange simulator: spot under `/gateio`, USDT futures under
`/gateio_futures` (WebSocket in `ws.py`, REST in `rest.py`).

Imported by the simulator only (through the package's `simulator` module path).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from microservices.data_collector.exchanges.gateio.simulator import rest
from microservices.data_collector.exchanges.gateio.simulator.ws import (
    GateFuturesDialect,
    GateSpotDialect,
)
from microservices.exchange_simulator.venues.spec import SimulatorDialect, SimVenue


def capture_venue(host: str, path: str) -> str | None:
    if (host.startswith("fx-") and "gateio" in host) or path.startswith("/gateio_futures"):
        return "gateio_futures"
    if "gateio" in host or "gate.io" in host or path.startswith("/gateio"):
        return "gateio_futures" if "/futures" in path else "gateio"
    return None


def frame_venue(venue: str, item: Mapping[str, Any]) -> str:
    """tardis samples mix spot and futures frames in one file: the channel tells."""
    frame = item.get("frame")
    if venue == "gateio" and isinstance(frame, str) and '"channel":"futures.' in frame:
        return "gateio_futures"
    return venue


SIMULATOR: Final = SimulatorDialect(
    venues=(
        SimVenue("gateio", (GateSpotDialect,), rest.spot_routes, rest.REST_SPEC),
        SimVenue("gateio_futures", (GateFuturesDialect,), rest.futures_routes, rest.REST_SPEC),
    ),
    capture_venue=capture_venue,
    frame_venue=frame_venue,
)
