"""KuCoin: spot (`kucoin`) and USDT-margined perpetuals (`kucoin_futures`), one package.

`exchange.py` owns what both share (a token and endpoint per connection from
`bullet-public`, in `bullet.py`; welcome, ping, subscribe frames, the REST envelope) and
spot, `futures.py` the futures venue, `wire.py`/`parser.py` the frames, `book.py` the
50-level books, `listing.py` the symbol and contract listings and naming rules,
`simulator/` the dialect the exchange simulator serves (imported by it only).
"""

from __future__ import annotations

from typing import Final

from microservices.data_collector.exchanges.kucoin.book import BOOKS
from microservices.data_collector.exchanges.kucoin.exchange import Kucoin
from microservices.data_collector.exchanges.kucoin.futures import KucoinFutures
from microservices.data_collector.exchanges.kucoin.server_time import SERVER_TIME
from microservices.data_collector.exchanges.package import (
    ExchangePackage,
    SimulatedMarket,
    VenueSpec,
    has,
    url_venue,
)

PACKAGE: Final = ExchangePackage(
    name="kucoin",
    venues=(
        VenueSpec(
            "kucoin",
            Kucoin,
            url_venue="kucoin",
            has=has("trades", "tickers", "klines", "listing"),
            default=False,
            simulated=SimulatedMarket(basis_bps=1.0, volume_share=0.3),
            latency_types=frozenset({"trade", "ticker", "kline"}),  # every frame: venue time
            server_time=SERVER_TIME,
            books=BOOKS["kucoin"],
        ),
        VenueSpec(
            "kucoin_futures",
            KucoinFutures,
            url_venue="kucoin_futures",
            has=has("trades", "tickers", "klines", "funding", "open_interest", "listing"),
            default=False,
            simulated=SimulatedMarket(
                basis_bps=2.5, volume_share=0.5, funding_rate_8h=0.0001, oi_share=0.3
            ),
            server_time=SERVER_TIME,
            books=BOOKS["kucoin_futures"],
        ),
    ),
    url_venues=(
        url_venue(
            "kucoin",
            ws=(
                "wss://ws-api-spot.kucoin.com",
                "KuCoin spot WebSocket (each connection uses the endpoint and token that "
                "POST /api/v1/bullet-public on KUCOIN_REST_URL returns)",
            ),
            rest=("https://api.kucoin.com", "KuCoin spot REST base"),
        ),
        url_venue(
            "kucoin_futures",
            ws=(
                "wss://ws-api-futures.kucoin.com",
                "KuCoin Futures WebSocket (each connection uses the endpoint and token that "
                "POST /api/v1/bullet-public on KUCOIN_FUTURES_REST_URL returns)",
            ),
            rest=("https://api-futures.kucoin.com", "KuCoin Futures REST base"),
        ),
    ),
    simulator="microservices.data_collector.exchanges.kucoin.simulator",
)
