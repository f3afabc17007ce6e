"""Gate.io v4: spot (`gateio`) and USDT-settled perpetuals (`gateio_futures`), one package.

`exchange.py` owns both venues (channels, subscribe and ping frames, REST builders, weights),
`wire.py` (the typed frames) and `parser.py` (their handlers) the WebSocket data, `book.py`
the `order_book_update` books synced from REST snapshots, `listing.py` the currency pairs,
contracts and naming rule, `simulator/` the dialect the exchange simulator serves (imported
by it only).
"""

from __future__ import annotations

from typing import Final

from microservices.data_collector.exchanges.gateio.book import BOOKS
from microservices.data_collector.exchanges.gateio.exchange import GateFutures, GateSpot
from microservices.data_collector.exchanges.gateio.server_time import SERVER_TIME
from microservices.data_collector.exchanges.package import (
    ExchangePackage,
    SimulatedMarket,
    VenueSpec,
    has,
    url_venue,
)

REST_BASE: Final = "https://api.gateio.ws/api/v4"
FUTURES_REST_BASE: Final = "https://fx-api.gateio.ws/api/v4"  # Gate's futures host

PACKAGE: Final = ExchangePackage(
    name="gateio",
    venues=(
        VenueSpec(
            "gateio",
            GateSpot,
            url_venue="gateio",
            has=has("trades", "tickers", "klines", "listing"),
            default=False,
            simulated=SimulatedMarket(basis_bps=1.0, volume_share=0.3),
            server_time=SERVER_TIME,
            books=BOOKS["gateio"],
        ),
        VenueSpec(
            "gateio_futures",
            GateFutures,
            url_venue="gateio_futures",
            has=has("trades", "tickers", "klines", "funding", "open_interest", "listing"),
            default=False,
            simulated=SimulatedMarket(
                basis_bps=2.0, volume_share=0.5, funding_rate_8h=0.0001, oi_share=0.3
            ),
            server_time=SERVER_TIME,
            books=BOOKS["gateio_futures"],
        ),
    ),
    url_venues=(
        url_venue(
            "gateio",
            ws=("wss://api.gateio.ws/ws/v4/", "Gate.io v4 spot WebSocket"),
            rest=(REST_BASE, "Gate.io v4 REST base (/spot/...)"),
        ),
        url_venue(
            "gateio_futures",
            ws=("wss://fx-ws.gateio.ws/v4/ws/usdt", "Gate.io v4 USDT futures WebSocket"),
            rest=(FUTURES_REST_BASE, "Gate.io v4 futures REST base (/futures/usdt/...)"),
        ),
    ),
    simulator="microservices.data_collector.exchanges.gateio.simulator",
)
