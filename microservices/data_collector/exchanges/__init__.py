"""The venue registry: adding a venue is its module plus one line here."""

from __future__ import annotations

from typing import Final

from microservices.data_collector.exchanges.base import Exchange
from microservices.data_collector.exchanges.binance import Binance
from microservices.data_collector.exchanges.binance_futures import BinanceFutures
from microservices.data_collector.exchanges.bybit import Bybit, BybitSpot
from microservices.data_collector.exchanges.coinbase import Coinbase

EXCHANGES: Final[dict[str, type[Exchange]]] = {
    "binance": Binance,
    "binance_futures": BinanceFutures,
    "bybit": Bybit,
    "bybit_spot": BybitSpot,
    "coinbase": Coinbase,
}

# Which settings fields (<prefix>_ws_url, <prefix>_rest_url) hold a venue's endpoints.
ENDPOINT_SETTINGS: Final[dict[str, str]] = {"bybit_spot": "bybit"}


def endpoint_prefix(venue: str) -> str:
    return ENDPOINT_SETTINGS.get(venue, venue)
