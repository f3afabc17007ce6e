"""Bitget v2 instrument listings: spot `/api/v2/spot/public/symbols` and USDT-margined
contracts `/api/v2/mix/market/contracts?productType=USDT-FUTURES` (one page each), the naming
rule for symbols without a listing, and the all-tickers endpoints for `top:N`.

Pure: JSON body in, `(ParsedListing, None)` out; bad rows are counted and skipped, never
raised. `BitgetListing` gives the venues' `Exchange` classes their listing hooks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final

import msgspec

from microservices.common.instruments import (
    Instrument,
    MarketType,
    ParsedListing,
    SkipRow,
    Status,
    decode_body,
    make_instrument,
    optional_step,
    parse_rows,
    split_by_quote_suffix,
)
from microservices.data_collector.exchanges.base import RestRequest
from microservices.data_collector.exchanges.venue_symbols import Volume24h, percent_of_fraction

OK: Final = "00000"  # the v2 envelope's success code
# Quote coins for the naming rule only; the listing is authoritative.
SPOT_QUOTES: Final = frozenset({"USDT", "USDC", "USDE", "BTC", "ETH", "EUR", "BRL", "TRY"})
LINEAR_QUOTES: Final = frozenset({"USDT"})
SPOT_STATUS: Final[Mapping[str, Status]] = {
    "online": "trading",
    "gray": "pending",  # grey launch: not yet open to everyone
    "halt": "halted",
    "offline": "delisted",
}
CONTRACT_STATUS: Final[Mapping[str, Status]] = {
    "normal": "trading",
    "listed": "pending",  # listed, trading not started
    "maintain": "halted",
    "limit_open": "trading",  # opening positions limited, trading goes on
    "restrictedAPI": "halted",
    "off": "delisted",
}
CONTRACT_TYPES: Final[Mapping[str, MarketType]] = {"perpetual": "perpetual", "delivery": "future"}


class _SpotRow(msgspec.Struct):
    symbol: str
    baseCoin: str
    quoteCoin: str
    status: str
    pricePrecision: str = ""  # decimals of the price: tick 10^-n
    quantityPrecision: str = ""  # decimals of the base quantity: lot 10^-n


class _ContractRow(msgspec.Struct):
    symbol: str
    baseCoin: str
    quoteCoin: str
    symbolType: str  # perpetual, delivery
    symbolStatus: str
    pricePlace: str = ""  # price decimals
    priceEndStep: str = "1"  # tick = priceEndStep * 10^-pricePlace
    sizeMultiplier: str = ""  # quantity step (base coin)
    fundInterval: str = ""  # hours between settlements
    deliveryTime: str = ""  # ms; dated futures
    supportMarginCoins: list[str] = []


def _decimals_step(places: str, step: str = "1") -> float | None:
    """`step * 10^-places` ("2" -> 0.01; "1", "5" -> 0.5); None when not stated."""
    if not places:
        return None
    return optional_step(float(step) / 10 ** int(places))


def _status(table: Mapping[str, Status], value: str, result: ParsedListing) -> Status:
    status = table.get(value)
    if status is None:
        result.flag("unknown_status")
        return "halted"
    return status


def _spot_parser(venue: str) -> Any:
    def parse(raw: object, result: ParsedListing) -> Instrument:
        row = msgspec.convert(raw, _SpotRow)
        return make_instrument(
            venue=venue, venue_symbol=row.symbol, base=row.baseCoin, quote=row.quoteCoin,
            market="spot", tick_size=_decimals_step(row.pricePrecision),
            lot_size=_decimals_step(row.quantityPrecision),
            status=_status(SPOT_STATUS, row.status, result),
        )  # fmt: skip

    return parse


def _contract_parser(venue: str) -> Any:
    def parse(raw: object, result: ParsedListing) -> Instrument:
        row = msgspec.convert(raw, _ContractRow)
        market = CONTRACT_TYPES.get(row.symbolType)
        if market is None:
            raise SkipRow("unknown_contract_type")
        expiry = int(row.deliveryTime) if row.deliveryTime.isdigit() else 0
        if market == "future" and expiry <= 0:
            raise SkipRow("no_expiry")
        return make_instrument(
            venue=venue, venue_symbol=row.symbol, base=row.baseCoin, quote=row.quoteCoin,
            market=market, tick_size=_decimals_step(row.pricePlace, row.priceEndStep),
            lot_size=optional_step(row.sizeMultiplier),
            status=_status(CONTRACT_STATUS, row.symbolStatus, result),
            expiry_ms=expiry if market == "future" else None,
            funding_interval_h=optional_step(row.fundInterval) if market == "perpetual" else None,
            settle=row.supportMarginCoins[0] if row.supportMarginCoins else row.quoteCoin,
        )  # fmt: skip

    return parse


def parse_listing_body(body: object, venue: str, spot: bool) -> ParsedListing:
    """A symbols or contracts answer -> instruments of `venue`. A code other than "00000"
    counts "api_error"."""
    result = ParsedListing()
    data = decode_body(body, result)
    if data is None:
        return result
    if not isinstance(data, dict):
        result.skip("not_an_object")
        return result
    if data.get("code") != OK:
        result.skip("api_error")
        return result
    parser = _spot_parser(venue) if spot else _contract_parser(venue)
    return parse_rows(data.get("data"), parser, result)


def symbol_instrument(venue_symbol: str, venue: str = "bitget") -> Instrument | None:
    """Naming rule without a listing: `BASE+QUOTE` concatenated; `bitget_spot` by the longest
    spot quote it ends with, `bitget` (USDT-FUTURES) a USDT perpetual. Tick and lot sizes
    unknown (None). None when nothing matches."""
    symbol = venue_symbol.strip().upper()
    spot = venue == "bitget_spot"
    split = split_by_quote_suffix(symbol, SPOT_QUOTES if spot else LINEAR_QUOTES)
    if split is None:
        return None
    try:
        return make_instrument(venue=venue, venue_symbol=venue_symbol, base=split[0],
                               quote=split[1], market="spot" if spot else "perpetual")  # fmt: skip
    except ValueError:
        return None


def parse_tickers_24h(payload: object) -> list[Volume24h]:
    """`/api/v2/spot/market/tickers` or `/api/v2/mix/market/tickers` (all symbols): `data`
    rows `{symbol, lastPr, quoteVolume (quote units), change24h (a fraction), ...}`; bad rows
    skipped."""
    rows = payload.get("data") if isinstance(payload, dict) else None
    return [
        Volume24h.from_row(
            row["symbol"],
            row.get("lastPr"),
            row.get("quoteVolume"),
            percent_of_fraction(row.get("change24h")),
        )
        for row in (rows if isinstance(rows, list) else ())
        if isinstance(row, dict) and isinstance(row.get("symbol"), str)
    ]


class BitgetListing:
    """The listing hooks of a Bitget v2 venue (`VenueSymbols`), by its `inst_type`."""

    name: ClassVar[str]
    inst_type: ClassVar[str]
    rule_quotes: ClassVar[frozenset[str]] = LINEAR_QUOTES

    @property
    def _spot(self) -> bool:
        return self.inst_type == "SPOT"

    def symbol_instrument(self, venue_symbol: str) -> Instrument | None:
        return symbol_instrument(venue_symbol, self.name)

    def listing_request(self, cursor: str | None) -> RestRequest | None:
        if self._spot:
            return RestRequest("/api/v2/spot/public/symbols", {})
        return RestRequest("/api/v2/mix/market/contracts", {"productType": self.inst_type})

    def parse_listing(self, payload: object) -> tuple[ParsedListing, str | None]:
        return parse_listing_body(payload, self.name, self._spot), None

    def tickers_24h_request(self) -> RestRequest | None:
        if self._spot:
            return RestRequest("/api/v2/spot/market/tickers", {})
        return RestRequest("/api/v2/mix/market/tickers", {"productType": self.inst_type})

    def parse_tickers_24h(self, payload: object) -> list[Volume24h]:
        return parse_tickers_24h(payload)
