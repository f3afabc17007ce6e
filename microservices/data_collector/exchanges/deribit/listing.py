"""Deribit instruments: `public/get_instruments?currency=BTC|ETH|USDC&kind=future` pages (one
per currency), the rows' kinds (perpetual, dated future, option), linear vs inverse, contract
sizes, and the naming rule for symbols without a listing.

Pure: JSON body in, `ParsedListing` out; bad rows are counted and skipped, never raised.
`DeribitListing` gives the `Exchange` class its listing hooks. Imports `common.instruments`,
the exchange interface types and msgspec.
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
    PutCall,
    SkipRow,
    decode_body,
    make_instrument,
    optional_step,
    parse_rows,
)
from microservices.data_collector.exchanges.base import RestRequest

LISTING_PATH: Final = "/api/v2/public/get_instruments"
# get_instruments has its own limit (1 request/s sustained): it costs more of our budget
LISTING_WEIGHT: Final = 20
CURRENCIES: Final = ("BTC", "ETH", "USDC")  # one page each: inverse BTC, inverse ETH, linear
PERPETUAL: Final = "perpetual"  # settlement_period of perpetuals
EXPIRY_HOUR_UTC: Final = 8  # Deribit expiries are at 08:00 UTC
# inverse contracts are worth a fixed USD amount (BTC-PERPETUAL 10 USD, ETH-PERPETUAL 1 USD)
INVERSE_CONTRACT_USD: Final[Mapping[str, float]] = {"BTC": 10.0, "ETH": 1.0}
OPTION_SIDES: Final[Mapping[str, PutCall]] = {"call": "C", "put": "P"}
_PAIR = r"(?P<base>[A-Z0-9]+)(?:_(?P<quote>[A-Z]+))?"
_DATE = r"(?P<date>\d{1,2}[A-Z]{3}\d{2})"  # 24SEP21, 6AUG21
PERP_NAME = re.compile(rf"^{_PAIR}-PERPETUAL$")
FUTURE_NAME = re.compile(rf"^{_PAIR}-{_DATE}$")
OPTION_NAME = re.compile(rf"^{_PAIR}-{_DATE}-(?P<strike>\d+(?:D\d+)?)-(?P<pc>[CP])$")


class _Row(msgspec.Struct):
    instrument_name: str
    kind: str  # future, option, spot, future_combo, option_combo
    base_currency: str
    quote_currency: str
    counter_currency: str = ""  # USD for inverse contracts and coin options, else the quote
    settlement_currency: str = ""
    instrument_type: str = ""  # "reversed" (inverse) or "linear"; absent in older answers
    settlement_period: str = ""  # perpetual, day, week, month
    expiration_timestamp: int = 0
    contract_size: float = 1.0
    tick_size: float | None = None
    min_trade_amount: float | None = None
    is_active: bool = True
    option_type: str = ""
    strike: float | None = None


def _inverse(row: _Row) -> bool:
    """Inverse ("reversed") when the listing says so; older answers lack instrument_type and
    settlement_currency: then a contract quoted in its own base coin is inverse."""
    if row.instrument_type:
        return row.instrument_type == "reversed"
    if row.settlement_currency:
        return row.settlement_currency == row.base_currency
    return row.quote_currency in (row.base_currency, "USD")


def _kind(row: _Row) -> tuple[MarketType, PutCall | None]:
    if row.kind == "future":
        return ("perpetual" if row.settlement_period == PERPETUAL else "future"), None
    if row.kind == "option":
        side = OPTION_SIDES.get(row.option_type)
        if side is None:
            raise SkipRow("unknown_option_type")
        return "option", side
    raise SkipRow(f"kind_{row.kind}" if row.kind in ("spot", "future_combo", "option_combo")
                  else "unknown_kind")  # fmt: skip


def _parse_row(raw: object, result: ParsedListing) -> Instrument:
    row = msgspec.convert(raw, _Row)
    market, put_call = _kind(row)
    inverse = _inverse(row)
    quote = row.counter_currency or ("USD" if inverse else row.quote_currency)
    expiry = row.expiration_timestamp if market != "perpetual" else None
    if expiry is not None and expiry <= 0:
        raise SkipRow("no_expiry")
    return make_instrument(
        venue="deribit",
        venue_symbol=row.instrument_name,
        base=row.base_currency,
        quote=quote,
        market=market,
        inverse=inverse,
        contract_size=row.contract_size,
        tick_size=optional_step(row.tick_size),
        lot_size=optional_step(row.min_trade_amount),
        status="trading" if row.is_active else "halted",
        expiry_ms=expiry,
        settle=row.settlement_currency or None,
        strike=row.strike if put_call is not None else None,
        put_call=put_call,
    )


def parse_instruments(body: object) -> ParsedListing:
    """One `public/get_instruments` answer -> instruments. A JSON-RPC `error` counts
    "api_error"; perpetuals, dated futures and options are kept, combos and spot skipped."""
    result = ParsedListing()
    data = decode_body(body, result)
    if data is None:
        return result
    if not isinstance(data, dict):
        result.skip("not_an_object")
        return result
    if data.get("error") is not None:
        result.skip("api_error")
        return result
    return parse_rows(data.get("result"), _parse_row, result)


def _expiry_ms(ddmmmyy: str) -> int:
    day = datetime.strptime(ddmmmyy, "%d%b%y").replace(hour=EXPIRY_HOUR_UTC, tzinfo=UTC)
    return int(day.timestamp()) * 1000


def _named(venue_symbol: str) -> dict[str, Any] | None:
    """Instrument fields of a Deribit name: `BTC-PERPETUAL` (inverse), `BTC_USDC-PERPETUAL`
    (linear), `BTC-27DEC24`, `BTC-24SEP21-8000-P`, `MATIC_USDC-9MAR24-1d02-C` (strike 1.02)."""
    symbol = venue_symbol.strip().upper()
    for pattern, market in ((PERP_NAME, "perpetual"), (FUTURE_NAME, "future"),
                            (OPTION_NAME, "option")):  # fmt: skip
        match = pattern.match(symbol)
        if match is None:
            continue
        base, quote = match["base"], match["quote"]
        inverse = quote is None or quote == "USD"  # BTC_USD-PERPETUAL: a guessed spelling
        fields: dict[str, Any] = {"base": base, "quote": "USD" if inverse else quote,
                                  "market": market, "inverse": inverse}  # fmt: skip
        if inverse and market != "option":
            if base not in INVERSE_CONTRACT_USD:
                return None
            fields["contract_size"] = INVERSE_CONTRACT_USD[base]
        if market != "perpetual":
            fields["expiry_ms"] = _expiry_ms(match["date"])
        if market == "option":
            fields.update(strike=float(match["strike"].replace("D", ".")), put_call=match["pc"])
        fields["venue_symbol"] = f"{base}-PERPETUAL" if quote == "USD" else venue_symbol
        return fields
    return None


def symbol_instrument(venue_symbol: str) -> Instrument | None:
    """Deribit's naming rule (module `_named`): None for combos, spot pairs and anything
    else; tick and lot sizes unknown; linear contract sizes 1 base unit."""
    try:
        fields = _named(venue_symbol)
        if fields is None:
            return None
        return make_instrument(venue="deribit", **fields)
    except ValueError:  # an impossible date such as 31FEB25
        return None


class DeribitListing:
    """The listing hooks of Deribit (`VenueSymbols`): one page per currency of CURRENCIES."""

    name: ClassVar[str]
    # the primary rule's quote order: Deribit's linear perpetuals are USDC-margined
    quote_order: ClassVar[tuple[str, ...]] = ("USDC", "USD", "USDT")
    # inverse first: BTC-PERPETUAL (10 USD contracts) is Deribit's deep book, far deeper than
    # BTC_USDC-PERPETUAL; its USD amounts are converted with the contract size
    contract_order: ClassVar[tuple[str, ...]] = ("inverse", "linear")
    symbol_format: ClassVar[str] = "{base}_{quote}-PERPETUAL"
    rule_quotes: ClassVar[frozenset[str]] = frozenset({"USD", "USDC", "USDT"})
    _listing_page: str = CURRENCIES[0]  # currency of the last page asked (answers lack it)

    def symbol_instrument(self, venue_symbol: str) -> Instrument | None:
        return symbol_instrument(venue_symbol)

    def listing_request(self, cursor: str | None) -> RestRequest | None:
        """The page of currency `cursor` (BTC first); the answer's next page follows it."""
        currency = cursor if cursor in CURRENCIES else CURRENCIES[0]
        self._listing_page = currency
        params = {"currency": currency, "kind": "future", "expired": "false"}
        return RestRequest(LISTING_PATH, params, LISTING_WEIGHT)

    def parse_listing(self, payload: object) -> tuple[ParsedListing, str | None]:
        index = CURRENCIES.index(self._listing_page) + 1
        return parse_instruments(payload), CURRENCIES[index] if index < len(CURRENCIES) else None
