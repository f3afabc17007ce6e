"""Coinbase's dialect in the exchange simulator under `/coinbase` (WebSocket in `ws.py`,
REST in `rest.py`).

Imported by the simulator only (through the package's `simulator` module path).
"""

from __future__ import annotations

from typing import Final

from microservices.data_collector.exchanges.coinbase.simulator import rest
from microservices.data_collector.exchanges.coinbase.simulator.ws import CoinbaseDialect
from microservices.exchange_simulator.venues.spec import SimulatorDialect, SimVenue


def capture_venue(host: str, path: str) -> str | None:
    if "coinbase" in host or path.startswith("/coinbase"):
        return "coinbase"
    return None


SIMULATOR: Final = SimulatorDialect(
    venues=(SimVenue("coinbase", (CoinbaseDialect,), rest.routes, rest.REST_SPEC),),
    capture_venue=capture_venue,
)
