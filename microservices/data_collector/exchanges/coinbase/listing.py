"""Coinbase Exchange instrument listing (`GET /products`) and the naming rule for product ids
without one (`BASE-QUOTE`). Every Coinbase Exchange product is spot.

Pure: JSON body in, `ParsedListing` out; bad rows are counted and skipped, never raised.
`CoinbaseListing` gives the venue's `Exchange` class its listing hooks. Imports
`common.instruments`, the exchange interface types and msgspec.
"""

from __future__ import annotations

from typing import ClassVar, Final

import msgspec

from microservices.common.instruments import (
    Instrument,
    ParsedListing,
    RowParser,
    Status,
    decode_body,
    make_instrument,
    optional_step,
    parse_rows,
)
from microservices.data_collector.exchanges.base import RestRequest

VENUE: Final = "coinbase"
# product `status` values: online, offline, internal, delisted
KNOWN_STATUSES: Final = frozenset({"online", "offline", "internal", "delisted"})
# quote currencies Coinbase has used, to split followed symbols (BTCUSDT -> BTC) for the
# naming rule; its product ids name both assets (BTC-USD), the listing is authoritative
RULE_QUOTES: Final = frozenset({"USD", "USDT", "USDC", "DAI", "EUR", "GBP", "BTC", "ETH", "SOL"})


class _Product(msgspec.Struct):
    id: str  # BTC-USD
    base_currency: str
    quote_currency: str
    status: str
    quote_increment: str | None = None  # price step
    base_increment: str | None = None  # size step
    trading_disabled: bool = False
    cancel_only: bool = False


def _status(product: _Product, result: ParsedListing) -> Status:
    """online and open -> trading; delisted -> delisted; offline, internal, cancel-only or
    trading disabled -> halted (an unknown status is flagged and also taken as halted)."""
    if product.status not in KNOWN_STATUSES:
        result.flag("unknown_status")
        return "halted"
    if product.status == "delisted":
        return "delisted"
    if product.status != "online" or product.trading_disabled or product.cancel_only:
        return "halted"
    return "trading"


def _parse_product(venue: str) -> RowParser:
    def parse(row: object, result: ParsedListing) -> Instrument:
        product = msgspec.convert(row, _Product)
        return make_instrument(
            venue=venue,
            venue_symbol=product.id,
            base=product.base_currency,
            quote=product.quote_currency,
            market="spot",
            tick_size=optional_step(product.quote_increment),
            lot_size=optional_step(product.base_increment),
            status=_status(product, result),
        )

    return parse


def parse_products(body: object, venue: str = VENUE) -> ParsedListing:
    """Coinbase `/products` body (a JSON list; bytes, text or decoded) -> spot instruments."""
    result = ParsedListing()
    data = decode_body(body, result)
    if data is None:
        return result
    return parse_rows(data, _parse_product(venue), result)


def symbol_instrument(venue_symbol: str, venue: str = VENUE) -> Instrument | None:
    """Naming rule without a listing: `BTC-USD` -> BTC/USD spot, tick and lot unknown (None).
    None unless the id is exactly two non-empty parts."""
    parts = venue_symbol.strip().upper().split("-")
    if len(parts) != 2 or not all(parts):
        return None
    try:
        return make_instrument(
            venue=venue, venue_symbol=venue_symbol, base=parts[0], quote=parts[1], market="spot"
        )
    except ValueError:
        return None


class CoinbaseListing:
    """The listing hooks of Coinbase Exchange (`VenueSymbols`). Coinbase has no all-products
    24 h ticker (only `/products/{id}/stats`, one request each): its volume counts as 0 in
    `top:N`."""

    name: ClassVar[str]
    rule_quotes: ClassVar[frozenset[str]] = RULE_QUOTES
    symbol_format: ClassVar[str] = "{base}-{quote}"
    quote_order: ClassVar[tuple[str, ...]] = ("USD", "USDT", "USDC")  # the deep books: USD

    def symbol_instrument(self, venue_symbol: str) -> Instrument | None:
        return symbol_instrument(venue_symbol, self.name)

    def listing_request(self, cursor: str | None) -> RestRequest | None:
        return RestRequest("/products", {})

    def parse_listing(self, payload: object) -> tuple[ParsedListing, str | None]:
        return parse_products(payload, self.name), None
