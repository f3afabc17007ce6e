"""Coinbase Exchange (`coinbase`): USD spot books, one venue.

`exchange.py` owns the venue (subscribe frames, REST candles), `wire.py` (the typed messages),
`parser.py` (their handlers) and `candles.py` (1m bars built from matches) the frames,
`listing.py` /products and the naming rule, `simulator/` the dialect the exchange simulator
serves (imported by the simulator only).
"""

from __future__ import annotations

from typing import Final

from microservices.data_collector.exchanges.coinbase.book import BOOKS
from microservices.data_collector.exchanges.coinbase.exchange import Coinbase
from microservices.data_collector.exchanges.coinbase.server_time import SERVER_TIME
from microservices.data_collector.exchanges.package import (
    ExchangePackage,
    SimulatedMarket,
    VenueSpec,
    has,
    url_venue,
)

PACKAGE: Final = ExchangePackage(
    name="coinbase",
    venues=(
        VenueSpec(
            "coinbase",
            Coinbase,
            url_venue="coinbase",
            has=has("trades", "tickers", "klines", "listing"),
            simulated=SimulatedMarket(basis_bps=-1.5, volume_share=0.4),
            # default latency_types (trade, ticker): its klines are built here from matches
            server_time=SERVER_TIME,
            books=BOOKS["coinbase"],
        ),
    ),
    url_venues=(
        url_venue(
            "coinbase",
            ws=("wss://ws-feed.exchange.coinbase.com", "Coinbase Exchange WebSocket feed"),
            rest=("https://api.exchange.coinbase.com", "Coinbase Exchange REST base"),
        ),
    ),
    simulator="microservices.data_collector.exchanges.coinbase.simulator",
)
