"""Binance's dialect in the exchange simulator: spot under `/binance`, USDⓈ-M under
`/binance_futures` (WebSocket in `*_ws.py`, REST in `*_rest.py`).

Imported by the simulator only (through the package's `simulator` module path).
"""

from __future__ import annotations

from typing import Final

from microservices.data_collector.exchanges.binance.simulator import futures_rest, spot_rest
from microservices.data_collector.exchanges.binance.simulator.futures_ws import (
    BinanceFuturesDialect,
)
from microservices.data_collector.exchanges.binance.simulator.spot_ws import BinanceDialect
from microservices.exchange_simulator.venues.spec import SimulatorDialect, SimVenue


def capture_venue(host: str, path: str) -> str | None:
    """binance_futures for fstream/fapi hosts or our /binance_futures prefix, else binance."""
    if "fstream" in host or "fapi" in host or path.startswith("/binance_futures"):
        return "binance_futures"
    if "binance" in host or path.startswith("/binance"):
        return "binance"
    return None


SIMULATOR: Final = SimulatorDialect(
    venues=(
        SimVenue(
            "binance",
            (BinanceDialect,),
            spot_rest.routes,
            spot_rest.REST_SPEC,
            weight_limit=lambda config: config.binance_weight_limit_1m,
        ),
        SimVenue(
            "binance_futures",
            (BinanceFuturesDialect,),
            futures_rest.routes,
            futures_rest.REST_SPEC,
            weight_limit=lambda config: config.futures_weight_limit_1m,
        ),
    ),
    capture_venue=capture_venue,
)
