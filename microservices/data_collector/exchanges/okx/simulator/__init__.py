"""OKX's dialect in the exchange simulator: swaps and spot under `/okx` (WebSocket in `ws.py`
and `frames.py`, REST in `rest.py`).

Imported by the simulator only (through the package's `simulator` module path).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from microservices.data_collector.exchanges.okx.simulator import rest
from microservices.data_collector.exchanges.okx.simulator.ws import OkxDialect, OkxSpotDialect
from microservices.exchange_simulator.venues.spec import SimulatorDialect, SimVenue


def capture_venue(host: str, path: str) -> str | None:
    if "okx" in host or "okex" in host or path.startswith("/okx"):
        return "okx"
    return None


def frame_venue(venue: str, item: Mapping[str, Any]) -> str:
    """One OKX URL carries every instType: a frame of a spot instrument is `okx_spot`'s."""
    if venue != "okx":
        return venue
    text = str(item.get("frame") or "")
    if '"instId"' in text and "-SWAP" not in text and '"instType":"SWAP"' not in text:
        return "okx_spot"
    return venue


SIMULATOR: Final = SimulatorDialect(
    venues=(SimVenue("okx", (OkxDialect, OkxSpotDialect), rest.routes, rest.REST_SPEC),),
    capture_venue=capture_venue,
    frame_venue=frame_venue,
)
