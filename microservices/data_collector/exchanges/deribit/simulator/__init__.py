"""Deribit's dialect in the exchange simulator under `/deribit` (WebSocket in `ws.py` and
`frames.py`, REST in `rest.py`).

Imported by the simulator only (through the package's `simulator` module path).
"""

from __future__ import annotations

from typing import Final

from microservices.data_collector.exchanges.deribit.simulator import rest
from microservices.data_collector.exchanges.deribit.simulator.ws import DeribitDialect
from microservices.exchange_simulator.venues.spec import SimulatorDialect, SimVenue


def capture_venue(host: str, path: str) -> str | None:
    if "deribit" in host or path.startswith("/deribit"):
        return "deribit"
    return None


# Deribit's public limit: 20 requests/s sustained (500 credits each, 10,000 refilled a second)
WEIGHT_PER_MINUTE: Final = 1200

SIMULATOR: Final = SimulatorDialect(
    venues=(
        SimVenue(
            "deribit",
            (DeribitDialect,),
            rest.routes,
            rest.REST_SPEC,
            weight_limit=lambda config: WEIGHT_PER_MINUTE,
        ),
    ),
    capture_venue=capture_venue,
)
