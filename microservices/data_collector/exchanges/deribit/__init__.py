"""Deribit API v2: perpetuals and futures (`deribit`), inverse and USDC-margined linear.

`exchange.py` owns the venue (JSON-RPC subscribe and heartbeat frames, REST builders,
weights), `wire.py` (the typed notifications), `parser.py` (their handlers) and `state.py`
(ticker records, contract terms) the frames, `book.py` the L2 book rules, `listing.py`
get_instruments and the naming rule, `simulator/` the dialect the exchange simulator serves
(imported by it only).
"""

from __future__ import annotations

from typing import Final

from microservices.data_collector.exchanges.deribit.book import BOOKS
from microservices.data_collector.exchanges.deribit.exchange import Deribit
from microservices.data_collector.exchanges.deribit.server_time import SERVER_TIME
from microservices.data_collector.exchanges.package import (
    ExchangePackage,
    SimulatedMarket,
    VenueSpec,
    has,
    url_venue,
)

PACKAGE: Final = ExchangePackage(
    name="deribit",
    venues=(
        VenueSpec(
            "deribit",
            Deribit,
            url_venue="deribit",
            has=has(
                "trades", "tickers", "klines", "funding", "open_interest", "liquidations", "listing"
            ),
            default=False,
            simulated=SimulatedMarket(
                basis_bps=2.0, volume_share=0.4, funding_rate_8h=0.00008, oi_share=0.3
            ),
            server_time=SERVER_TIME,
            books=BOOKS,
        ),
    ),
    url_venues=(
        url_venue(
            "deribit",
            ws=("wss://www.deribit.com", "Deribit WebSocket host (path /ws/api/v2 is added)"),
            rest=("https://www.deribit.com", "Deribit REST host (paths /api/v2/public/...)"),
        ),
    ),
    simulator="microservices.data_collector.exchanges.deribit.simulator",
)
