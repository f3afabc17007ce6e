"""Binance: spot (`binance`) and USDⓈ-M perpetuals (`binance_futures`), one package.

`spot.py`/`futures.py` own the venues (streams, REST builders, weights), `wire.py` (the typed
payloads) and `parser.py` (their handlers) the frames, `listing.py` exchangeInfo and the
naming rule, `simulator/` the dialect the exchange simulator serves (imported by it only).
"""

from __future__ import annotations

from typing import Final

from microservices.data_collector.exchanges.binance.book import BOOKS
from microservices.data_collector.exchanges.binance.futures import BinanceFutures
from microservices.data_collector.exchanges.binance.server_time import FUTURES_TIME, SPOT_TIME
from microservices.data_collector.exchanges.binance.spot import Binance
from microservices.data_collector.exchanges.package import (
    ExchangePackage,
    SimulatedMarket,
    VenueSpec,
    has,
    url_venue,
)

PACKAGE: Final = ExchangePackage(
    name="binance",
    venues=(
        VenueSpec(
            "binance",
            Binance,
            url_venue="binance",
            has=has("trades", "tickers", "klines", "listing"),
            simulated=SimulatedMarket(basis_bps=0.0, volume_share=1.0),
            latency_types=frozenset({"trade", "kline"}),  # spot bookTicker has no event time
            server_time=SPOT_TIME,
            books=BOOKS["binance"],
        ),
        VenueSpec(
            "binance_futures",
            BinanceFutures,
            url_venue="binance_futures",
            has=has(
                "trades", "tickers", "klines", "funding", "open_interest", "liquidations", "listing"
            ),
            simulated=SimulatedMarket(
                basis_bps=2.0, volume_share=2.5, funding_rate_8h=0.0001, oi_share=1.0
            ),
            # forceOrder sends one liquidation per symbol per second, up to a second late
            latency_types=frozenset({"trade", "ticker", "kline", "funding"}),
            server_time=FUTURES_TIME,
            books=BOOKS["binance_futures"],
        ),
    ),
    url_venues=(
        url_venue(
            "binance",
            ws=("wss://stream.binance.com:9443", "Binance spot WebSocket base"),
            rest=("https://api.binance.com", "Binance spot REST base"),
        ),
        url_venue(
            "binance_futures",
            ws=(
                "wss://fstream.binance.com",
                "Binance USDⓈ-M WebSocket base; /stream?streams= is appended, so a routed "
                "prefix such as wss://fstream.binance.com/market works",
            ),
            rest=("https://fapi.binance.com", "Binance USDⓈ-M REST base"),
        ),
    ),
    simulator="microservices.data_collector.exchanges.binance.simulator",
)
