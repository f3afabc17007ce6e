"""Bybit v5 instrument listings (`/v5/market/instruments-info`, category spot / linear, also
inverse and option rows), one page at a time, and the naming rule for symbols without one.

Pure: JSON body in, `(ParsedListing, next_cursor)` out; bad rows are counted and skipped,
never raised. `BybitListing` gives the venues' `Exchange` classes their listing hooks.
Imports `common.instruments`, the exchange interface types and msgspec.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final

import msgspec

from microservices.common.instruments import (
    Instrument,
    MarketType,
    ParsedListing,
    PutCall,
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

# Quote coins for the naming rule only; the listing is authoritative.
SPOT_QUOTES: Final = frozenset(
    {"USDT", "USDC", "USDE", "DAI", "BTC", "ETH", "EUR", "BRL", "PLN", "TRY"}
)
LINEAR_QUOTES: Final = frozenset({"USDT", "USDC"})

STATUS: Final[Mapping[str, Status]] = {
    "Trading": "trading",
    "PreLaunch": "pending",  # pre-market contracts (may trade in auction phases)
    "Delivering": "halted",
    "Closed": "delisted",
}
# contractType -> (market, inverse)
CONTRACTS: Final[Mapping[str, tuple[MarketType, bool]]] = {
    "LinearPerpetual": ("perpetual", False),
    "LinearFutures": ("future", False),
    "InversePerpetual": ("perpetual", True),
    "InverseFutures": ("future", True),
}
OPTION_SIDES: Final[Mapping[str, PutCall]] = {"Call": "C", "Put": "P"}
CATEGORIES: Final = frozenset({"spot", "linear", "inverse", "option"})
DELIVERY_HOUR_UTC: Final = 8
_DATE = r"(\d{1,2}[A-Z]{3}\d{2})"  # 26DEC25
OPTION_SYMBOL = re.compile(rf"^([A-Z0-9]+)-{_DATE}-(\d+(?:\.\d+)?)-([CP])(?:-([A-Z0-9]+))?$")
DATED_SYMBOL = re.compile(rf"^([A-Z0-9]+?)(USDT)?-{_DATE}$")  # BTC-26DEC25, BTCUSDT-26DEC25
# inverse futures: BTCUSDU23 = BTC/USD, September 2023 (futures month codes)
INVERSE_DATED = re.compile(r"^([A-Z0-9]+?)USD([FGHJKMNQUVXZ])(\d{2})$")
MONTH_CODES: Final = {code: month for month, code in enumerate("FGHJKMNQUVXZ", start=1)}


class _PriceFilter(msgspec.Struct):
    tickSize: str | None = None


class _LotFilter(msgspec.Struct):
    qtyStep: str | None = None  # derivatives
    basePrecision: str | None = None  # spot: the base quantity step


class _Row(msgspec.Struct):
    symbol: str
    status: str
    baseCoin: str
    quoteCoin: str
    contractType: str = ""  # linear / inverse only
    optionsType: str = ""  # option only
    settleCoin: str = ""
    deliveryTime: str = "0"  # ms; futures/options expiry, perpetuals' delisting time
    fundingInterval: int = 0  # minutes
    priceFilter: _PriceFilter | None = None
    lotSizeFilter: _LotFilter | None = None


def _kind(row: _Row, category: str) -> tuple[MarketType, bool, PutCall | None]:
    """(market, inverse, put/call) of a row in its category; SkipRow for unknown types."""
    if category == "spot":
        return "spot", False, None
    if category == "option":
        side = OPTION_SIDES.get(row.optionsType)
        if side is None:
            raise SkipRow("unknown_option_type")
        return "option", False, side
    kind = CONTRACTS.get(row.contractType)
    if kind is None:
        raise SkipRow("unknown_contract_type")
    return kind[0], kind[1], None


def _fields(row: _Row, market: MarketType, result: ParsedListing) -> dict[str, Any]:
    """The optional Instrument fields of a row (steps, status, expiry, funding, settle)."""
    status = STATUS.get(row.status)
    if status is None:
        result.flag("unknown_status")
        status = "halted"
    price, lot = row.priceFilter, row.lotSizeFilter
    lot_step = None if lot is None else (lot.basePrecision if market == "spot" else lot.qtyStep)
    delivery = int(row.deliveryTime) if row.deliveryTime else 0
    if market in ("future", "option") and delivery <= 0:
        raise SkipRow("no_expiry")
    return {
        "tick_size": optional_step(None if price is None else price.tickSize),
        "lot_size": optional_step(lot_step),
        "status": status,
        "expiry_ms": delivery if delivery > 0 else None,
        "funding_interval_h": row.fundingInterval / 60 if row.fundingInterval > 0 else None,
        "settle": row.settleCoin or None,
    }


def _row_parser(venue: str, category: str) -> RowParser:
    def parse(raw: object, result: ParsedListing) -> Instrument:
        row = msgspec.convert(raw, _Row)
        market, inverse, put_call = _kind(row, category)
        strike = row.symbol.split("-")[2] if put_call is not None else None
        if strike is not None and not strike.replace(".", "", 1).isdigit():
            raise SkipRow("bad_strike")
        return make_instrument(
            venue=venue,
            venue_symbol=row.symbol,
            base=row.baseCoin,
            quote=row.quoteCoin,
            market=market,
            inverse=inverse,
            strike=strike,
            put_call=put_call,
            **_fields(row, market, result),
        )

    return parse


def parse_instruments_page(
    body: object, venue: str, category: str | None = None
) -> tuple[ParsedListing, str | None]:
    """One page of `/v5/market/instruments-info` -> (instruments, next cursor or None).

    `venue` is the id the instruments get (`bybit` for linear, `bybit_spot`); `category`
    defaults to the page's own `result.category`. A non-zero `retCode` counts "api_error"."""
    result = ParsedListing()
    data = decode_body(body, result)
    if data is None:
        return result, None
    if not isinstance(data, dict):
        result.skip("not_an_object")
        return result, None
    if data.get("retCode", 0) != 0:
        result.skip("api_error")
        return result, None
    page = data.get("result")
    if not isinstance(page, dict):
        result.skip("no_result")
        return result, None
    category = category or page.get("category")
    if category not in CATEGORIES:
        result.skip("unknown_category")
        return result, None
    cursor = page.get("nextPageCursor")
    next_cursor = cursor if isinstance(cursor, str) and cursor else None
    return parse_rows(page.get("list"), _row_parser(venue, category), result), next_cursor


def _delivery_ms(ddmmmyy: str) -> int:
    day = datetime.strptime(ddmmmyy, "%d%b%y").replace(hour=DELIVERY_HOUR_UTC, tzinfo=UTC)
    return int(day.timestamp()) * 1000


def _spot_symbol(symbol: str) -> dict[str, Any] | None:
    split = split_by_quote_suffix(symbol, SPOT_QUOTES)
    return None if split is None else {"base": split[0], "quote": split[1], "market": "spot"}


def _linear_symbol(symbol: str) -> dict[str, Any] | None:
    """Fields of a linear-category symbol by Bybit's naming conventions, or None."""
    option = OPTION_SYMBOL.match(symbol)
    if option is not None:
        base, date, strike, side, quote = option.groups()
        return {"base": base, "quote": quote or "USDC", "market": "option",
                "expiry_ms": _delivery_ms(date), "strike": strike, "put_call": side}  # fmt: skip
    dated = DATED_SYMBOL.match(symbol)
    if dated is not None:
        base, usdt, date = dated.groups()
        return {"base": base, "quote": usdt or "USDC", "market": "future",
                "expiry_ms": _delivery_ms(date)}  # fmt: skip
    if symbol.endswith("PERP") and len(symbol) > 4:  # USDC perpetuals: BTCPERP
        return {"base": symbol[:-4], "quote": "USDC", "market": "perpetual"}
    split = split_by_quote_suffix(symbol, LINEAR_QUOTES)
    if split is not None:
        return {"base": split[0], "quote": split[1], "market": "perpetual"}
    return _inverse_symbol(symbol)


def _inverse_symbol(symbol: str) -> dict[str, Any] | None:
    """Inverse contracts (category inverse; frames of captures): `BTCUSD` perpetual,
    `BTCUSDU23` future expiring the last Friday of its month, 08:00 UTC."""
    dated = INVERSE_DATED.match(symbol)
    if dated is not None:
        base, code, year = dated.groups()
        expiry = _last_friday_ms(2000 + int(year), MONTH_CODES[code])
        return {"base": base, "quote": "USD", "market": "future", "inverse": True,
                "expiry_ms": expiry}  # fmt: skip
    if symbol.endswith("USD") and len(symbol) > 3:
        return {"base": symbol[:-3], "quote": "USD", "market": "perpetual", "inverse": True}
    return None


def _last_friday_ms(year: int, month: int) -> int:
    first_next = datetime(year + month // 12, month % 12 + 1, 1, DELIVERY_HOUR_UTC, tzinfo=UTC)
    last = first_next - timedelta(days=1)
    last -= timedelta(days=(last.weekday() - 4) % 7)  # back to a Friday (weekday 4)
    return int(last.timestamp()) * 1000


def symbol_instrument(venue_symbol: str, venue: str = "bybit") -> Instrument | None:
    """Naming rule without a listing. `bybit_spot`: suffix match against the spot quotes,
    longest first. `bybit` (linear): `BTCUSDT` perpetual, `BTCPERP` USDC perpetual,
    `BTC-26DEC25` (USDC) / `BTCUSDT-26DEC25` futures, `BTC-27MAR26-70000-P[-USDT]` options
    (expiry 08:00 UTC), and the inverse contracts captures carry (`BTCUSD`, `BTCUSDU23`).
    Tick and lot sizes unknown (None). None when nothing matches."""
    symbol = venue_symbol.strip().upper()
    try:
        fields = _spot_symbol(symbol) if venue == "bybit_spot" else _linear_symbol(symbol)
        if fields is None:
            return None
        return make_instrument(venue=venue, venue_symbol=venue_symbol, **fields)
    except ValueError:  # also an impossible date such as 31FEB25
        return None


def parse_tickers_24h(payload: object) -> list[Volume24h]:
    """`/v5/market/tickers?category=...` (all symbols): `result.list` rows `{symbol,
    lastPrice, turnover24h (quote units), price24hPcnt (a fraction), ...}` -> 24 h volumes
    and change in percent; bad rows skipped."""
    result = payload.get("result") if isinstance(payload, dict) else None
    rows = result.get("list") if isinstance(result, dict) else None
    return [
        Volume24h.from_row(row["symbol"], row.get("lastPrice"), row.get("turnover24h"),
                           _percent(row.get("price24hPcnt")))
        for row in rows or ()
        if isinstance(row, dict) and isinstance(row.get("symbol"), str)
    ]  # fmt: skip


def _percent(fraction: object) -> float | None:
    """price24hPcnt ("0.012" = 1.2 %) in percent; None when not a number."""
    try:
        return 100.0 * float(fraction)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


class BybitListing:
    """The listing hooks of a Bybit v5 venue (`VenueSymbols`), by its `category`."""

    name: ClassVar[str]
    category: ClassVar[str]
    rule_quotes: ClassVar[frozenset[str]] = LINEAR_QUOTES
    page_limit: ClassVar[int] = 1000  # instruments-info maximum (spot ignores it: one page)

    def symbol_instrument(self, venue_symbol: str) -> Instrument | None:
        return symbol_instrument(venue_symbol, self.name)

    def listing_request(self, cursor: str | None) -> RestRequest | None:
        params = {"category": self.category, "limit": str(self.page_limit)}
        if cursor:
            params["cursor"] = cursor
        return RestRequest("/v5/market/instruments-info", params)

    def parse_listing(self, payload: object) -> tuple[ParsedListing, str | None]:
        return parse_instruments_page(payload, self.name, self.category)

    def tickers_24h_request(self) -> RestRequest | None:
        return RestRequest("/v5/market/tickers", {"category": self.category})

    def parse_tickers_24h(self, payload: object) -> list[Volume24h]:
        return parse_tickers_24h(payload)
