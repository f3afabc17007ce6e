"""Gate.io v4 instrument listings: spot `/spot/currency_pairs` and USDT futures
`/futures/usdt/contracts` (one page each), the naming rule for symbols without a listing
(`BASE_QUOTE`), and the all-tickers answers `top:N` ranks by.

Pure: JSON body in, `ParsedListing` out; bad rows are counted and skipped, never raised.
`GateListing` gives the venues' `Exchange` classes their listing hooks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final

import msgspec

from microservices.common.instruments import (
    Instrument,
    ParsedListing,
    SkipRow,
    Status,
    decode_body,
    make_instrument,
    optional_step,
    parse_rows,
)
from microservices.data_collector.exchanges.base import RestRequest
from microservices.data_collector.exchanges.venue_symbols import Volume24h

# quotes the naming rule accepts for `top:N`/SYMBOLS splitting (the listing is authoritative)
SPOT_QUOTES: Final = frozenset({"USDT", "USDC", "USD", "BTC", "ETH", "TRY", "EUR"})
FUTURES_QUOTES: Final = frozenset({"USDT"})
SPOT_STATUS: Final[Mapping[str, Status]] = {
    "tradable": "trading",
    "untradable": "halted",
    "buyable": "halted",  # one side only: not a market to quote from
    "sellable": "halted",
}
FUTURES_STATUS: Final[Mapping[str, Status]] = {
    "trading": "trading",
    "delisting": "halted",  # reduce-only until delisted
    "delisted": "delisted",
}


class _PairRow(msgspec.Struct):
    id: str  # BASE_QUOTE
    base: str
    quote: str
    trade_status: str
    precision: int | None = None  # price decimals
    amount_precision: int | None = None  # base amount decimals


class _ContractRow(msgspec.Struct):
    name: str  # BASE_USDT
    type: str  # "direct" (linear) or "inverse"
    quanto_multiplier: str  # base units per contract
    order_price_round: str | None = None  # tick size
    funding_interval: int = 0  # seconds
    in_delisting: bool = False
    status: str | None = None  # newer answers: trading, delisting, delisted


def _decimals_step(decimals: int | None) -> float | None:
    return None if decimals is None or decimals < 0 else 10.0**-decimals


def _pair_row(venue: str) -> Any:
    def parse(raw: object, result: ParsedListing) -> Instrument:
        row = msgspec.convert(raw, _PairRow)
        status = SPOT_STATUS.get(row.trade_status)
        if status is None:
            result.flag("unknown_status")
            status = "halted"
        return make_instrument(
            venue=venue, venue_symbol=row.id, base=row.base, quote=row.quote, market="spot",
            tick_size=_decimals_step(row.precision), lot_size=_decimals_step(row.amount_precision),
            status=status,
        )  # fmt: skip

    return parse


def _contract_status(row: _ContractRow, result: ParsedListing) -> Status:
    if row.status is not None:
        found = FUTURES_STATUS.get(row.status)
        if found is not None:
            return found
        result.flag("unknown_status")
    return "halted" if row.in_delisting else "trading"


def _contract_row(venue: str) -> Any:
    def parse(raw: object, result: ParsedListing) -> Instrument:
        row = msgspec.convert(raw, _ContractRow)
        base, sep, quote = row.name.rpartition("_")
        if not sep or row.type not in ("direct", "inverse"):
            raise SkipRow("unknown_contract_type")
        inverse = row.type == "inverse"
        multiplier = float(row.quanto_multiplier) if not inverse else 1.0
        return make_instrument(
            venue=venue, venue_symbol=row.name, base=base, quote=quote, market="perpetual",
            inverse=inverse, contract_size=multiplier, lot_size=multiplier,
            tick_size=optional_step(row.order_price_round), status=_contract_status(row, result),
            funding_interval_h=row.funding_interval / 3600 if row.funding_interval > 0 else None,
            settle="USDT",
        )  # fmt: skip

    return parse


def parse_listing_body(body: object, venue: str, futures: bool) -> ParsedListing:
    """A whole listing answer (a JSON array of rows) -> instruments; an error object
    (`{"label", "message"}`) counts "api_error"."""
    result = ParsedListing()
    data = decode_body(body, result)
    if data is None:
        return result
    if isinstance(data, dict):
        result.skip("api_error" if "label" in data else "not_a_list")
        return result
    parser = _contract_row(venue) if futures else _pair_row(venue)
    return parse_rows(data, parser, result)


def symbol_instrument(venue_symbol: str, venue: str, futures: bool) -> Instrument | None:
    """Naming rule: `BASE_QUOTE` (a spot pair, or a linear perpetual of `/futures/usdt`,
    whose contracts are all `_USDT`); contract size, tick and lot unknown. None when the
    symbol has no `_` (or, on futures, another quote)."""
    base, sep, quote = venue_symbol.strip().upper().rpartition("_")
    if not sep or not base or (futures and quote not in FUTURES_QUOTES):
        return None
    try:
        return make_instrument(
            venue=venue, venue_symbol=venue_symbol, base=base, quote=quote,
            market="perpetual" if futures else "spot",
        )  # fmt: skip
    except ValueError:
        return None


def parse_tickers(payload: object, symbol_key: str, volume_key: str) -> list[Volume24h]:
    """All-tickers rows (`/spot/tickers`: currency_pair, quote_volume; `/futures/usdt/
    tickers`: contract, volume_24h_quote; both `change_percentage` in percent) -> 24 h
    volumes and changes; bad rows skipped."""
    rows = payload if isinstance(payload, list) else ()
    return [
        Volume24h.from_row(
            row[symbol_key], row.get("last"), row.get(volume_key), row.get("change_percentage")
        )
        for row in rows
        if isinstance(row, dict) and isinstance(row.get(symbol_key), str)
    ]


class GateListing:
    """The listing hooks of a Gate.io v4 venue (`VenueSymbols`), spot or USDT futures."""

    name: ClassVar[str]
    futures: ClassVar[bool] = False
    symbol_format: ClassVar[str] = "{base}_{quote}"
    rule_quotes: ClassVar[frozenset[str]] = SPOT_QUOTES

    def symbol_instrument(self, venue_symbol: str) -> Instrument | None:
        return symbol_instrument(venue_symbol, self.name, self.futures)

    def listing_request(self, cursor: str | None) -> RestRequest | None:
        path = "/futures/usdt/contracts" if self.futures else "/spot/currency_pairs"
        return RestRequest(path, {})

    def parse_listing(self, payload: object) -> tuple[ParsedListing, str | None]:
        return parse_listing_body(payload, self.name, self.futures), None

    def tickers_24h_request(self) -> RestRequest | None:
        return RestRequest("/futures/usdt/tickers" if self.futures else "/spot/tickers", {})

    def parse_tickers_24h(self, payload: object) -> list[Volume24h]:
        if self.futures:
            return parse_tickers(payload, "contract", "volume_24h_quote")
        return parse_tickers(payload, "currency_pair", "quote_volume")
