"""OKX v5 instrument listings (`GET /api/v5/public/instruments?instType=SPOT|SWAP`), the naming
rule for instrument ids without one, and the all-tickers endpoint behind `top:N`.

Pure: JSON body in, `ParsedListing` out; bad rows are counted and skipped, never raised.
Contract sizes: a linear SWAP's `ctVal` x `ctMult` is base units per contract (BTC-USDT-SWAP:
0.01 BTC), an inverse SWAP's is USD per contract (BTC-USD-SWAP: 100). `OkxListing` gives the
venues' `Exchange` classes their listing hooks. Imports `common.instruments` and msgspec.
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
from microservices.data_collector.exchanges.venue_symbols import Volume24h, percent_from_open

INSTRUMENTS_PATH: Final = "/api/v5/public/instruments"
TICKERS_PATH: Final = "/api/v5/market/tickers"
# `state`: live, suspend, preopen (listing soon), test (not tradable)
STATUS: Final[Mapping[str, Status]] = {
    "live": "trading",
    "suspend": "halted",
    "preopen": "pending",
    "test": "halted",
}
# quotes the naming rule splits followed symbols by; the listing is authoritative
RULE_QUOTES: Final = frozenset({"USDT", "USDC", "USD", "BTC", "ETH", "EUR", "DAI", "OKB"})
SWAP_QUOTES: Final = frozenset({"USDT", "USDC", "USD"})
# OKX's inverse (coin-margined) swaps are worth 100 USD a contract for BTC, 10 USD otherwise
INVERSE_BTC_USD: Final = 100.0
INVERSE_OTHER_USD: Final = 10.0


class _Row(msgspec.Struct):
    instId: str  # BTC-USDT, BTC-USDT-SWAP
    instType: str  # SPOT, SWAP
    state: str
    baseCcy: str = ""  # spot
    quoteCcy: str = ""  # spot
    uly: str = ""  # derivatives: BTC-USDT
    ctType: str = ""  # linear / inverse
    ctVal: str = ""  # contract value (base units linear, USD inverse)
    ctMult: str = "1"
    settleCcy: str = ""
    tickSz: str = ""
    lotSz: str = ""
    expTime: str = ""  # ms; delivery, or an announced delisting


def _assets(row: _Row) -> tuple[str, str]:
    """(base, quote) of a row: spot names them, a swap's underlying `uly` does."""
    if row.instType == "SPOT":
        return row.baseCcy, row.quoteCcy
    base, _, quote = row.uly.partition("-")
    return base, quote


def _contract_size(row: _Row) -> float:
    """ctVal x ctMult of a swap; 1 base unit on spot."""
    if row.instType == "SPOT":
        return 1.0
    return float(row.ctVal) * float(row.ctMult or "1")


def _parse_row(venue: str, inst_type: str) -> Any:
    def parse(raw: object, result: ParsedListing) -> Instrument:
        row = msgspec.convert(raw, _Row)
        if row.instType != inst_type:
            raise SkipRow("other_inst_type")
        if row.instType == "SWAP" and row.ctType not in ("linear", "inverse"):
            raise SkipRow("unknown_contract_type")
        status = STATUS.get(row.state)
        if status is None:
            result.flag("unknown_status")
            status = "halted"
        base, quote = _assets(row)
        expiry = int(row.expTime) if row.expTime else 0
        return make_instrument(
            venue=venue,
            venue_symbol=row.instId,
            base=base,
            quote=quote,
            market="spot" if inst_type == "SPOT" else "perpetual",
            inverse=row.ctType == "inverse",
            contract_size=_contract_size(row),
            tick_size=optional_step(row.tickSz or None),
            lot_size=optional_step(row.lotSz or None),
            status=status,
            expiry_ms=expiry if expiry > 0 else None,
            settle=row.settleCcy or None,
        )

    return parse


def parse_instruments(body: object, venue: str, inst_type: str) -> ParsedListing:
    """`/api/v5/public/instruments` of one `instType` -> instruments (one page: OKX sends the
    whole list). A non-zero `code` counts "api_error"; rows of another type are skipped."""
    result = ParsedListing()
    data = decode_body(body, result)
    if data is None:
        return result
    if not isinstance(data, dict):
        result.skip("not_an_object")
        return result
    if data.get("code", "0") != "0":
        result.skip("api_error")
        return result
    return parse_rows(data.get("data"), _parse_row(venue, inst_type), result)


def symbol_instrument(venue_symbol: str, venue: str) -> Instrument | None:
    """Naming rule without a listing: `okx_spot` BASE-QUOTE; `okx` BASE-QUOTE-SWAP (linear for
    USDT/USDC, inverse for USD at OKX's 100/10 USD contracts). A linear contract's value is
    unknown without the listing: 1 base unit is assumed. None when nothing matches."""
    parts = venue_symbol.strip().upper().split("-")
    try:
        if venue == "okx_spot" and len(parts) == 2:
            return make_instrument(venue=venue, venue_symbol=venue_symbol, base=parts[0],
                                   quote=parts[1], market="spot")  # fmt: skip
        if venue != "okx_spot" and len(parts) == 3 and parts[2] == "SWAP":
            base, quote = parts[0], parts[1]
            if quote not in SWAP_QUOTES:
                return None
            inverse = quote == "USD"
            size = (INVERSE_BTC_USD if base == "BTC" else INVERSE_OTHER_USD) if inverse else 1.0
            return make_instrument(venue=venue, venue_symbol=venue_symbol, base=base,
                                   quote=quote, market="perpetual", inverse=inverse,
                                   contract_size=size)  # fmt: skip
    except ValueError:
        return None
    return None


def parse_tickers_24h(payload: object) -> list[Volume24h]:
    """`/api/v5/market/tickers?instType=...` rows `{instId, last, volCcy24h, vol24h}` -> 24 h
    volumes in quote units: spot `volCcy24h` is quote units; for swaps it is base units, so
    it is priced at `last` (inverse swaps' `vol24h` contracts are not converted)."""
    rows = payload.get("data") if isinstance(payload, dict) else None
    out: list[Volume24h] = []
    for row in rows or ():
        if not isinstance(row, dict) or not isinstance(row.get("instId"), str):
            continue
        last, volume = row.get("last"), row.get("volCcy24h")
        if row.get("instType") == "SWAP":
            try:
                volume = float(str(volume)) * float(str(last))
            except ValueError:
                volume = None
        change = percent_from_open(last, row.get("open24h"))
        out.append(Volume24h.from_row(row["instId"], last, volume, change))
    return out


class OkxListing:
    """The listing hooks of an OKX v5 venue (`VenueSymbols`), by its `inst_type`."""

    name: ClassVar[str]
    inst_type: ClassVar[str]
    rule_quotes: ClassVar[frozenset[str]] = RULE_QUOTES
    quote_order: ClassVar[tuple[str, ...]] = ("USDT", "USDC", "USD")

    def symbol_instrument(self, venue_symbol: str) -> Instrument | None:
        return symbol_instrument(venue_symbol, self.name)

    def listing_request(self, cursor: str | None) -> RestRequest | None:
        return RestRequest(INSTRUMENTS_PATH, {"instType": self.inst_type})

    def parse_listing(self, payload: object) -> tuple[ParsedListing, str | None]:
        return parse_instruments(payload, self.name, self.inst_type), None

    def tickers_24h_request(self) -> RestRequest | None:
        return RestRequest(TICKERS_PATH, {"instType": self.inst_type})

    def parse_tickers_24h(self, payload: object) -> list[Volume24h]:
        return parse_tickers_24h(payload)
