"""Bitget v2: USDT-margined perpetuals (`bitget`, instType USDT-FUTURES) and spot
(`bitget_spot`, instType SPOT), one package.

`exchange.py` owns both venues (channels, subscribe and ping frames, REST builders, weights),
`wire.py` (the typed frames), `parser.py` (their handlers) and `state.py` (ticker and candle
state) the frames, `listing.py` the symbols/contracts listings and the naming rule, `book.py`
the `books` rules with Bitget's checksum, `simulator/` the dialect the exchange simulator
serves (imported by it only).
"""

from __future__ import annotations

from typing import Final

from microservices.data_collector.exchanges.bitget.book import BOOKS
from microservices.data_collector.exchanges.bitget.exchange import Bitget, BitgetSpot
from microservices.data_collector.exchanges.bitget.server_time import SERVER_TIME
from microservices.data_collector.exchanges.package import (
    ExchangePackage,
    SimulatedMarket,
    VenueSpec,
    has,
    url_venue,
)

PACKAGE: Final = ExchangePackage(
    name="bitget",
    venues=(
        VenueSpec(
            "bitget",
            Bitget,
            url_venue="bitget",
            has=has("trades", "tickers", "klines", "funding", "open_interest", "listing"),
            default=False,
            simulated=SimulatedMarket(
                basis_bps=2.0, volume_share=0.8, funding_rate_8h=0.0001, oi_share=0.4
            ),
            server_time=SERVER_TIME,
            books=BOOKS["bitget"],
        ),
        VenueSpec(
            "bitget_spot",
            BitgetSpot,
            url_venue="bitget",  # one host: /v2/ws/public serves SPOT and USDT-FUTURES
            has=has("trades", "tickers", "klines", "listing"),
            default=False,
            simulated=SimulatedMarket(basis_bps=0.5, volume_share=0.25),
            server_time=SERVER_TIME,
            books=BOOKS["bitget_spot"],
        ),
    ),
    url_venues=(
        url_venue(
            "bitget",
            ws=("wss://ws.bitget.com", "Bitget v2 WebSocket host (path /v2/ws/public is added)"),
            rest=("https://api.bitget.com", "Bitget v2 REST base"),
        ),
    ),
    simulator="microservices.data_collector.exchanges.bitget.simulator",
)
