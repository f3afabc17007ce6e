"""Which dialects, routes and REST rules serve each URL venue (`binance`, `bybit`, ...)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

from aiohttp import web

from microservices.exchange_simulator.market import MarketModel
from microservices.exchange_simulator.venues import (
    binance_futures_rest,
    binance_rest,
    bybit_rest,
    coinbase_rest,
)
from microservices.exchange_simulator.venues.base import Dialect, RestSpec
from microservices.exchange_simulator.venues.binance import BinanceDialect
from microservices.exchange_simulator.venues.binance_futures import BinanceFuturesDialect
from microservices.exchange_simulator.venues.bybit import BybitDialect, BybitSpotDialect
from microservices.exchange_simulator.venues.coinbase import CoinbaseDialect

ROUTES: Final[dict[str, Callable[[], list[web.RouteDef]]]] = {
    "binance": binance_rest.routes,
    "binance_futures": binance_futures_rest.routes,
    "bybit": bybit_rest.routes,
    "coinbase": coinbase_rest.routes,
}
REST_SPECS: Final[dict[str, RestSpec]] = {
    "binance": binance_rest.REST_SPEC,
    "binance_futures": binance_futures_rest.REST_SPEC,
    "bybit": bybit_rest.REST_SPEC,
    "coinbase": coinbase_rest.REST_SPEC,
}
DIALECTS: Final[dict[str, tuple[type[Dialect], ...]]] = {
    "binance": (BinanceDialect,),
    "binance_futures": (BinanceFuturesDialect,),
    "bybit": (BybitDialect, BybitSpotDialect),
    "coinbase": (CoinbaseDialect,),
}


def market_venues(venues: Iterable[str]) -> list[str]:
    """Market venues behind URL venues ('bybit' serves the linear and the spot book)."""
    return [cls.market_venue for venue in venues for cls in DIALECTS[venue]]


def build_dialects(venues: Iterable[str], market: MarketModel) -> dict[str, Dialect]:
    """market venue -> dialect instance for the served URL venues."""
    return {cls.market_venue: cls(market) for venue in venues for cls in DIALECTS[venue]}
