"""OKX v5: USDT-margined perpetual swaps (`okx`) and spot (`okx_spot`), one package.

`exchange.py` owns both venues (channels on the public and business endpoints, subscribe and
text-ping frames, REST builders, weights), `wire.py` (the typed frames) and `parser.py`
(their handlers) the WebSocket, `rest.py` the REST answers, `book.py` the `books` rules
(seqId chain, CRC32 checksum), `listing.py` the instruments and the naming rule,
`simulator/` the dialect the exchange simulator serves (imported by it only).
"""

from __future__ import annotations

from typing import Final

from microservices.data_collector.exchanges.okx.book import BOOKS
from microservices.data_collector.exchanges.okx.exchange import Okx, OkxSpot
from microservices.data_collector.exchanges.okx.server_time import SERVER_TIME
from microservices.data_collector.exchanges.package import (
    ExchangePackage,
    SimulatedMarket,
    VenueSpec,
    has,
    url_venue,
)

PACKAGE: Final = ExchangePackage(
    name="okx",
    venues=(
        VenueSpec(
            "okx",
            Okx,
            url_venue="okx",
            has=has(
                "trades", "tickers", "klines", "funding", "open_interest", "liquidations", "listing"
            ),
            default=False,
            simulated=SimulatedMarket(
                basis_bps=2.0, volume_share=1.0, funding_rate_8h=0.0002, oi_share=0.5
            ),
            server_time=SERVER_TIME,
            books=BOOKS["okx"],
        ),
        VenueSpec(
            "okx_spot",
            OkxSpot,
            url_venue="okx",  # one host: /ws/v5/public and /ws/v5/business
            has=has("trades", "tickers", "klines", "listing"),
            default=False,
            simulated=SimulatedMarket(basis_bps=0.5, volume_share=0.4),
            server_time=SERVER_TIME,
            books=BOOKS["okx_spot"],
        ),
    ),
    url_venues=(
        url_venue(
            "okx",
            ws=(
                "wss://ws.okx.com:8443",
                "OKX v5 WebSocket host (paths /ws/v5/public and /ws/v5/business are added)",
            ),
            rest=("https://www.okx.com", "OKX v5 REST base"),
        ),
    ),
    simulator="microservices.data_collector.exchanges.okx.simulator",
)
