"""Bybit v5: linear USDT perpetuals (`bybit`) and spot (`bybit_spot`), one package.

`exchange.py` owns both venues (topics, subscribe and ping frames, REST builders, weights),
`wire.py` (the typed frames), `parser.py` (their handlers) and `state.py` (snapshot + delta
merging) the frames, `listing.py` instruments-info and the naming rule, `simulator/` the
dialect the exchange simulator serves (imported by it only).
"""

from __future__ import annotations

from typing import Final

from microservices.data_collector.exchanges.bybit.book import BOOKS
from microservices.data_collector.exchanges.bybit.exchange import Bybit, BybitSpot
from microservices.data_collector.exchanges.bybit.server_time import SERVER_TIME
from microservices.data_collector.exchanges.package import (
    ExchangePackage,
    SimulatedMarket,
    VenueSpec,
    has,
    url_venue,
)

PACKAGE: Final = ExchangePackage(
    name="bybit",
    venues=(
        VenueSpec(
            "bybit",
            Bybit,
            url_venue="bybit",
            has=has(
                "trades", "tickers", "klines", "funding", "open_interest", "liquidations", "listing"
            ),
            simulated=SimulatedMarket(
                basis_bps=3.0, volume_share=1.2, funding_rate_8h=0.0003, oi_share=0.6
            ),
            server_time=SERVER_TIME,
            books=BOOKS["bybit"],
        ),
        VenueSpec(
            "bybit_spot",
            BybitSpot,
            url_venue="bybit",  # one host: /v5/public/linear and /v5/public/spot
            has=has("trades", "tickers", "klines", "listing"),
            default=False,
            simulated=SimulatedMarket(basis_bps=0.5, volume_share=0.3),
            server_time=SERVER_TIME,
            books=BOOKS["bybit_spot"],
        ),
    ),
    url_venues=(
        url_venue(
            "bybit",
            ws=(
                "wss://stream.bybit.com",
                "Bybit v5 WebSocket host (paths /v5/public/linear and /spot are added)",
            ),
            rest=("https://api.bybit.com", "Bybit v5 REST base"),
        ),
    ),
    simulator="microservices.data_collector.exchanges.bybit.simulator",
)
