"""Binance instrument listings: spot `/api/v3/exchangeInfo`, USDⓈ-M `/fapi/v1/exchangeInfo`,
and the naming rule that splits a Binance symbol when no listing is at hand.

Pure: JSON body in, `ParsedListing` out; bad rows are counted and skipped, never raised.
The `*Listing` mixins give the venues' `Exchange` classes their listing hooks (requests,
parsers, naming rule, 24 h tickers). Imports `common.instruments`, the exchange interface
types and msgspec (no I/O, no clock).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

import msgspec

from microservices.common.instruments import (
    Instrument,
    MarketType,
    ParsedListing,
    RowParser,
    SkipRow,
    Status,
    decode_body,
    make_instrument,
    optional_step,
    parse_rows,
    split_by_quote_suffix,
)
from microservices.data_collector.exchanges.base import RestRequest
from microservices.data_collector.exchanges.venue_symbols import Volume24h

# Quote assets Binance spot has used (2019-2025), for the naming rule only; the listing is
# authoritative. AEUR is left out on purpose: with it, ADAEUR would split as AD/AEUR.
SPOT_QUOTES: Final = frozenset({
    "USDT", "USDC", "FDUSD", "TUSD", "BUSD", "USDP", "PAX", "DAI", "USDS", "UST", "VAI", "USD1",
    "EURI", "BTC", "ETH", "BNB", "XRP", "TRX", "DOGE", "EUR", "TRY", "BRL", "GBP", "AUD", "JPY",
    "MXN", "ARS", "COP", "PLN", "RON", "UAH", "ZAR", "IDRT", "BIDR", "NGN", "RUB", "CZK", "BKRW",
    "BVND",
})  # fmt: skip
# USDⓈ-M margin/quote assets (ETHBTC is a USDⓈ-M perpetual quoted in BTC)
FUTURES_QUOTES: Final = frozenset({"USDT", "USDC", "BUSD", "BTC"})

SPOT_STATUS: Final[Mapping[str, Status]] = {
    "TRADING": "trading",
    "PRE_TRADING": "pending",
    "POST_TRADING": "halted",
    "END_OF_DAY": "halted",
    "HALT": "halted",
    "AUCTION_MATCH": "halted",
    "BREAK": "halted",  # also how Binance keeps many delisted pairs in the listing
}
FUTURES_STATUS: Final[Mapping[str, Status]] = {
    "TRADING": "trading",
    "PENDING_TRADING": "pending",
    "PRE_DELIVERING": "halted",
    "DELIVERING": "halted",
    "PRE_SETTLE": "halted",
    "SETTLING": "halted",
    "DELIVERED": "delisted",
    "CLOSE": "delisted",
}
FUTURES_CONTRACTS: Final[Mapping[str, MarketType]] = {
    "PERPETUAL": "perpetual",
    "PERPETUAL_DELIVERING": "perpetual",  # a perpetual being delisted
    "TRADIFI_PERPETUAL": "perpetual",  # gold, stock perpetuals
    "CURRENT_MONTH": "future",
    "NEXT_MONTH": "future",
    "CURRENT_QUARTER": "future",
    "NEXT_QUARTER": "future",
    "CURRENT_QUARTER_DELIVERING": "future",
}
# Perpetuals carry deliveryDate 4133404800000 (2100-12-25) as "never"; earlier is a delisting.
NEVER_MS: Final = 4_000_000_000_000
DATED_SYMBOL = re.compile(r"^([A-Z0-9]+)_(\d{6})$")  # BTCUSDT_250328
DELIVERY_HOUR_UTC: Final = 8


class _Filter(msgspec.Struct):
    filterType: str
    tickSize: str | None = None  # PRICE_FILTER
    stepSize: str | None = None  # LOT_SIZE


class _SpotSymbol(msgspec.Struct):
    symbol: str
    status: str
    baseAsset: str
    quoteAsset: str
    filters: list[_Filter] = []


class _FuturesSymbol(_SpotSymbol):
    contractType: str = ""
    deliveryDate: int = 0  # ms
    marginAsset: str | None = None
    contractSize: float | None = None  # COIN-M only; USDⓈ-M contracts are 1 base unit


def _steps(filters: list[_Filter]) -> tuple[float | None, float | None]:
    """(tick size from PRICE_FILTER, lot size from LOT_SIZE); None where absent or disabled."""
    by_type = {f.filterType: f for f in filters}
    price, lot = by_type.get("PRICE_FILTER"), by_type.get("LOT_SIZE")
    return (
        optional_step(price.tickSize) if price is not None else None,
        optional_step(lot.stepSize) if lot is not None else None,
    )


def _status(raw: str, table: Mapping[str, Status], result: ParsedListing) -> Status:
    status = table.get(raw)
    if status is None:
        result.flag("unknown_status")
        return "halted"
    return status


def _parse_spot_row(venue: str) -> RowParser:
    def parse(row: object, result: ParsedListing) -> Instrument:
        item = msgspec.convert(row, _SpotSymbol)
        tick, lot = _steps(item.filters)
        return make_instrument(
            venue=venue,
            venue_symbol=item.symbol,
            base=item.baseAsset,
            quote=item.quoteAsset,
            market="spot",
            tick_size=tick,
            lot_size=lot,
            status=_status(item.status, SPOT_STATUS, result),
        )

    return parse


def _parse_futures_row(venue: str) -> RowParser:
    def parse(row: object, result: ParsedListing) -> Instrument:
        item = msgspec.convert(row, _FuturesSymbol)
        market = FUTURES_CONTRACTS.get(item.contractType)
        if market is None:
            raise SkipRow("unknown_contract_type")
        tick, lot = _steps(item.filters)
        expiry = item.deliveryDate if 0 < item.deliveryDate < NEVER_MS else None
        if market == "future" and expiry is None:
            raise SkipRow("no_expiry")
        return make_instrument(
            venue=venue,
            venue_symbol=item.symbol,
            base=item.baseAsset,
            quote=item.quoteAsset,
            market=market,
            inverse=item.marginAsset == item.baseAsset,
            contract_size=item.contractSize or 1.0,
            tick_size=tick,
            lot_size=lot,
            status=_status(item.status, FUTURES_STATUS, result),
            expiry_ms=expiry,
            settle=item.marginAsset,
        )

    return parse


def _parse(body: object, parse_row: RowParser) -> ParsedListing:
    result = ParsedListing()
    data = decode_body(body, result)
    if data is None:
        return result
    if not isinstance(data, dict):
        result.skip("not_an_object")
        return result
    return parse_rows(data.get("symbols"), parse_row, result)


def parse_spot_listing(body: object, venue: str = "binance") -> ParsedListing:
    """Binance spot `/api/v3/exchangeInfo` body (bytes, text or decoded) -> instruments."""
    return _parse(body, _parse_spot_row(venue))


def parse_futures_listing(body: object, venue: str = "binance_futures") -> ParsedListing:
    """Binance USDⓈ-M `/fapi/v1/exchangeInfo` body -> perpetuals and dated futures. The
    funding interval is not in this listing (it is in `/fapi/v1/fundingInfo`): left None."""
    return _parse(body, _parse_futures_row(venue))


def _delivery_ms(yymmdd: str) -> int:
    day = datetime.strptime(yymmdd, "%y%m%d").replace(hour=DELIVERY_HOUR_UTC, tzinfo=UTC)
    return int(day.timestamp()) * 1000


def symbol_instrument(venue_symbol: str, venue: str = "binance") -> Instrument | None:
    """Naming rule without a listing: suffix match against Binance's quote assets, longest
    first (`LRCBTC` -> LRC/BTC, `BTCFDUSD` -> BTC/FDUSD). `binance` gives spot; other venues
    (`binance_futures`) a linear perpetual, or a dated future for `BTCUSDT_250328` (expiry
    08:00 UTC). Tick and lot sizes are unknown (None). None when the symbol does not split."""
    symbol = venue_symbol.strip().upper()
    spot = venue == "binance"
    dated = None if spot else DATED_SYMBOL.match(symbol)
    pair = dated.group(1) if dated else symbol
    split = split_by_quote_suffix(pair, SPOT_QUOTES if spot else FUTURES_QUOTES)
    if split is None:
        return None
    try:
        return make_instrument(
            venue=venue,
            venue_symbol=venue_symbol,
            base=split[0],
            quote=split[1],
            market="spot" if spot else ("future" if dated else "perpetual"),
            expiry_ms=_delivery_ms(dated.group(2)) if dated else None,
        )
    except ValueError:
        return None


def parse_tickers_24h(payload: object) -> list[Volume24h]:
    """`/api/v3/ticker/24hr` or `/fapi/v1/ticker/24hr` (all symbols): rows `{symbol,
    lastPrice, quoteVolume, priceChangePercent, ...}` -> 24 h volumes and change in percent
    (from openPrice in the MINI rows, which have no priceChangePercent); bad rows skipped."""
    rows = payload if isinstance(payload, list) else []
    return [
        Volume24h.from_row(row["symbol"], row.get("lastPrice"), row.get("quoteVolume"),
                           _change_pct(row))
        for row in rows
        if isinstance(row, dict) and isinstance(row.get("symbol"), str)
    ]  # fmt: skip


def _change_pct(row: dict[str, Any]) -> object:
    """priceChangePercent, else 100 * (lastPrice - openPrice) / openPrice, else None."""
    if row.get("priceChangePercent") is not None:
        return row["priceChangePercent"]
    try:
        last, open_ = float(row["lastPrice"]), float(row["openPrice"])
    except (KeyError, TypeError, ValueError):
        return None
    return 100.0 * (last - open_) / open_ if open_ > 0 else None


class BinanceSpotListing:
    """The listing hooks of Binance spot (`VenueSymbols`)."""

    name: ClassVar[str]
    rule_quotes: ClassVar[frozenset[str]] = SPOT_QUOTES

    def symbol_instrument(self, venue_symbol: str) -> Instrument | None:
        return symbol_instrument(venue_symbol, self.name)

    def listing_request(self, cursor: str | None) -> RestRequest | None:
        return RestRequest("/api/v3/exchangeInfo", {}, 20)  # one page, weight 20

    def parse_listing(self, payload: object) -> tuple[ParsedListing, str | None]:
        return parse_spot_listing(payload, self.name), None

    def tickers_24h_request(self) -> RestRequest | None:
        return RestRequest("/api/v3/ticker/24hr", {"type": "MINI"}, 80)  # weight 80: hourly

    def parse_tickers_24h(self, payload: object) -> list[Volume24h]:
        return parse_tickers_24h(payload)


class BinanceFuturesListing(BinanceSpotListing):
    """The listing hooks of Binance USDⓈ-M."""

    rule_quotes: ClassVar[frozenset[str]] = FUTURES_QUOTES

    def listing_request(self, cursor: str | None) -> RestRequest | None:
        return RestRequest("/fapi/v1/exchangeInfo", {}, 1)

    def parse_listing(self, payload: object) -> tuple[ParsedListing, str | None]:
        return parse_futures_listing(payload, self.name), None

    def tickers_24h_request(self) -> RestRequest | None:
        return RestRequest("/fapi/v1/ticker/24hr", {}, 40)
