"""KuCoin's dialect in the exchange simulator: spot under `/kucoin`, futures under
`/kucoin_futures` (WebSocket in `ws.py`, payloads in `frames.py`, REST in `rest.py`).

Imported by the simulator only (through the package's `simulator` module path).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from microservices.data_collector.exchanges.kucoin.simulator import rest
from microservices.data_collector.exchanges.kucoin.simulator.ws import (
    KucoinDialect,
    KucoinFuturesDialect,
)
from microservices.exchange_simulator.venues.spec import SimulatorDialect, SimVenue


def capture_venue(host: str, path: str) -> str | None:
    """KuCoin hosts (`api.kucoin.com`, `ws-api-spot`, the captures' `push-private`) and the
    prefixes; futures hosts name `futures`."""
    if path.startswith("/kucoin_futures") or ("kucoin" in host and "futures" in host):
        return "kucoin_futures"
    if "kucoin" in host or path.startswith("/kucoin"):
        return "kucoin"
    return None


def frame_venue(venue: str, item: Mapping[str, Any]) -> str:
    """tardis samples name the futures feed in `src` only."""
    if venue == "kucoin" and "kucoin-futures" in str(item.get("src", "")):
        return "kucoin_futures"
    return venue


SIMULATOR: Final = SimulatorDialect(
    venues=(
        SimVenue("kucoin", (KucoinDialect,), rest.spot_routes, rest.REST_SPEC),
        SimVenue("kucoin_futures", (KucoinFuturesDialect,), rest.futures_routes, rest.REST_SPEC),
    ),
    capture_venue=capture_venue,
    frame_venue=frame_venue,
)
