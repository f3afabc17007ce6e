"""KuCoin instrument listings: spot `GET /api/v2/symbols` (`/api/v1/symbols` rows are alike)
and futures `GET /api/v1/contracts/active` (perpetuals and dated futures, linear and
inverse, with the contract `multiplier`), the naming rules for symbols without a listing and
the 24 h tickers behind `top:N` (spot `/api/v1/market/allTickers`, futures the contracts).

Pure: JSON body in, `ParsedListing` out; bad rows are counted and skipped, never raised.
`KucoinListing` / `KucoinFuturesListing` give the `Exchange` classes their listing hooks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Final

import msgspec

from microservices.common.instruments import (
    USD_EQUIVALENTS,
    Instrument,
    MarketType,
    ParsedListing,
    RowParser,
    SkipRow,
    decode_body,
    make_instrument,
    optional_step,
    parse_rows,
    split_by_quote_suffix,
)
from microservices.data_collector.exchanges.base import RestRequest
from microservices.data_collector.exchanges.venue_symbols import Volume24h, percent_of_fraction

OK: Final = "200000"  # KuCoin's success code
# quotes of the naming rules only; the listings are authoritative
SPOT_QUOTES: Final = frozenset({"USDT", "USDC", "BTC", "ETH", "KCS", "TRX", "EUR", "DAI"})
FUTURES_QUOTES: Final = frozenset({"USDT", "USDC", "USD"})
# contract `type`: FFWCSX a perpetual, FFICSX a dated future
CONTRACT_TYPES: Final[dict[str, MarketType]] = {"FFWCSX": "perpetual", "FFICSX": "future"}
# KuCoin names bitcoin XBT on futures (the alias table maps it back to BTC)
VENUE_ASSETS: Final = {"BTC": "XBT"}


def envelope_data(payload: object) -> Any:
    """`data` of a `{"code": "200000", "data": ...}` answer; ValueError when the
    envelope is missing or carries an error code."""
    if not isinstance(payload, dict) or payload.get("code") != OK or "data" not in payload:
        code = payload.get("code") if isinstance(payload, dict) else None
        raise ValueError(f"kucoin answer with code {code!r}")
    return payload["data"]


class _Symbol(msgspec.Struct):
    symbol: str  # BTC-USDT
    baseCurrency: str
    quoteCurrency: str
    enableTrading: bool = True
    priceIncrement: str | None = None  # tick
    baseIncrement: str | None = None  # lot


def _spot_row(venue: str) -> RowParser:
    def parse(row: object, result: ParsedListing) -> Instrument:
        s = msgspec.convert(row, _Symbol)
        return make_instrument(
            venue=venue, venue_symbol=s.symbol, base=s.baseCurrency, quote=s.quoteCurrency,
            market="spot", tick_size=optional_step(s.priceIncrement),
            lot_size=optional_step(s.baseIncrement),
            status="trading" if s.enableTrading else "halted",
        )  # fmt: skip

    return parse


class _Contract(msgspec.Struct):
    symbol: str  # XBTUSDTM
    type: str  # FFWCSX perpetual, FFICSX future
    baseCurrency: str
    quoteCurrency: str
    multiplier: float  # base units per contract (negative: inverse, quote units)
    isInverse: bool = False
    status: str = "Open"
    tickSize: float | None = None
    lotSize: float | None = None  # in contracts
    expireDate: int | None = None  # ms, dated futures
    settleCurrency: str | None = None
    fundingRateGranularity: int | None = None  # ms between settlements (28800000 = 8 h)


def _contract_row(venue: str) -> RowParser:
    def parse(row: object, result: ParsedListing) -> Instrument:
        c = msgspec.convert(row, _Contract)
        market = CONTRACT_TYPES.get(c.type)
        if market is None:
            raise SkipRow("unknown_type")
        status = "trading" if c.status == "Open" else "halted"
        granularity = c.fundingRateGranularity
        return make_instrument(
            venue=venue, venue_symbol=c.symbol, base=c.baseCurrency, quote=c.quoteCurrency,
            market=market, inverse=c.isInverse, contract_size=abs(c.multiplier),
            tick_size=c.tickSize, lot_size=c.lotSize, status=status,
            expiry_ms=c.expireDate if market == "future" else None, settle=c.settleCurrency,
            funding_interval_h=granularity / 3_600_000 if granularity else None,
        )  # fmt: skip

    return parse


def parse_symbols(body: object, venue: str = "kucoin") -> ParsedListing:
    """Spot `/api/v2/symbols` (or v1) answer -> spot instruments."""
    result = ParsedListing()
    data = decode_body(body, result)
    if data is None:
        return result
    try:
        rows = envelope_data(data)
    except ValueError:
        result.skip("bad_envelope")
        return result
    return parse_rows(rows, _spot_row(venue), result)


def parse_contracts(body: object, venue: str = "kucoin_futures") -> ParsedListing:
    """Futures `/api/v1/contracts/active` answer -> perpetual and dated-future instruments
    (`contract_size` = |multiplier|)."""
    result = ParsedListing()
    data = decode_body(body, result)
    if data is None:
        return result
    try:
        rows = envelope_data(data)
    except ValueError:
        result.skip("bad_envelope")
        return result
    return parse_rows(rows, _contract_row(venue), result)


def spot_instrument(venue_symbol: str, venue: str = "kucoin") -> Instrument | None:
    """Naming rule: `BTC-USDT` -> BTC/USDT spot (tick and lot unknown); None otherwise."""
    parts = venue_symbol.strip().upper().split("-")
    if len(parts) != 2 or not all(parts):
        return None
    try:
        return make_instrument(venue=venue, venue_symbol=venue_symbol, base=parts[0],
                               quote=parts[1], market="spot")  # fmt: skip
    except ValueError:
        return None


def futures_instrument(venue_symbol: str, venue: str = "kucoin_futures") -> Instrument | None:
    """Naming rule: `XBTUSDTM` -> BTC/USDT linear perpetual, `XBTUSDM` -> BTC/USD inverse.
    The contract multiplier is unknown without the listing (sizes stay in contracts)."""
    upper = venue_symbol.strip().upper()
    if not upper.endswith("M"):
        return None
    split = split_by_quote_suffix(upper[:-1], FUTURES_QUOTES)
    if split is None:
        return None
    base, quote = split
    try:
        return make_instrument(venue=venue, venue_symbol=venue_symbol, base=base, quote=quote,
                               market="perpetual", inverse=quote == "USD")  # fmt: skip
    except ValueError:
        return None


def parse_all_tickers(payload: object) -> list[Volume24h]:
    """Spot `/api/v1/market/allTickers`: `data.ticker` rows `{symbol, last, volValue}`
    (volValue: 24 h volume in quote units; changeRate: the 24 h change as a fraction)."""
    data = envelope_data(payload)
    rows = data.get("ticker") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise ValueError("kucoin allTickers without data.ticker")
    return [Volume24h.from_row(r["symbol"], r.get("last"), r.get("volValue"),
                               percent_of_fraction(r.get("changeRate")))
            for r in rows if isinstance(r, dict) and isinstance(r.get("symbol"), str)]  # fmt: skip


def parse_contract_tickers(payload: object) -> list[Volume24h]:
    """Futures `/api/v1/contracts/active` rows `{symbol, lastTradePrice, turnoverOf24h,
    priceChgPct}` (turnover: 24 h volume in quote units; priceChgPct: a fraction)."""
    rows = envelope_data(payload)
    if not isinstance(rows, list):
        raise ValueError("kucoin contracts: data is not a list")
    return [Volume24h.from_row(r["symbol"], r.get("lastTradePrice"), r.get("turnoverOf24h"),
                               percent_of_fraction(r.get("priceChgPct")))
            for r in rows if isinstance(r, dict) and isinstance(r.get("symbol"), str)]  # fmt: skip


class KucoinListing:
    """Listing hooks of KuCoin spot (`VenueSymbols`)."""

    name: ClassVar[str]
    rule_quotes: ClassVar[frozenset[str]] = SPOT_QUOTES
    symbol_format: ClassVar[str] = "{base}-{quote}"

    def symbol_instrument(self, venue_symbol: str) -> Instrument | None:
        return spot_instrument(venue_symbol, self.name)

    def listing_request(self, cursor: str | None) -> RestRequest | None:
        return RestRequest("/api/v2/symbols", {}, weight=4)

    def parse_listing(self, payload: object) -> tuple[ParsedListing, str | None]:
        return parse_symbols(payload, self.name), None

    def tickers_24h_request(self) -> RestRequest | None:
        return RestRequest("/api/v1/market/allTickers", {}, weight=15)

    def parse_tickers_24h(self, payload: object) -> list[Volume24h]:
        return parse_all_tickers(payload)


class KucoinFuturesListing:
    """Listing hooks of KuCoin Futures (`VenueSymbols`): `BTCUSDT` is `XBTUSDTM`."""

    name: ClassVar[str]
    rule_quotes: ClassVar[frozenset[str]] = FUTURES_QUOTES
    symbol_format: ClassVar[str] = "{base}{quote}M"

    def symbol_instrument(self, venue_symbol: str) -> Instrument | None:
        return futures_instrument(venue_symbol, self.name)

    def guess_instruments(
        self, followed: str, usd_quotes: Iterable[str] = USD_EQUIVALENTS
    ) -> list[Instrument]:
        """Linear USDT/USDC perpetuals of a followed symbol (BTC spelled XBT)."""
        split = split_by_quote_suffix(followed, FUTURES_QUOTES | frozenset(usd_quotes))
        if split is None:
            return []
        base = VENUE_ASSETS.get(split[0], split[0])
        quotes = ("USDT", "USDC") if split[1] in USD_EQUIVALENTS else (split[1],)
        found = (futures_instrument(f"{base}{q}M", self.name) for q in quotes)
        return [inst for inst in found if inst is not None and not inst.inverse]

    def listing_request(self, cursor: str | None) -> RestRequest | None:
        return RestRequest("/api/v1/contracts/active", {}, weight=3)

    def parse_listing(self, payload: object) -> tuple[ParsedListing, str | None]:
        return parse_contracts(payload, self.name), None

    def tickers_24h_request(self) -> RestRequest | None:
        return RestRequest("/api/v1/contracts/active", {}, weight=3)

    def parse_tickers_24h(self, payload: object) -> list[Volume24h]:
        return parse_contract_tickers(payload)
