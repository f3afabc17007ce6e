"""Instruments discovered from venue listings: the record, canonical names, the asset alias
table and cross-venue group keys, plus the row loop listing parsers share.

Pure: imports only msgspec and the standard library; no I/O, no clock. Venue listing parsers
(`exchanges/<exchange>/listing.py`) build every `Instrument` through `make_instrument`; the
catalog (`catalog.py`) indexes them and picks each venue's primary instrument of a group.

Canonical names (`Instrument.symbol`), built from listing metadata, never by string edits:

| market    | payoff  | canonical                 | example: venue symbol -> canonical        |
|-----------|---------|---------------------------|-------------------------------------------|
| spot      | -       | BASEQUOTE                 | ETHBTC -> ETHBTC; Coinbase BTC-USD -> BTCUSD |
| perpetual | linear  | BASEQUOTE                 | BTCUSDT -> BTCUSDT; Bybit BTCPERP -> BTCUSDC |
| perpetual | inverse | BASEQUOTE.INV             | Bybit inverse BTCUSD -> BTCUSD.INV        |
| future    | linear  | BASEQUOTE-YYYYMMDD        | Binance BTCUSDT_261225 -> BTCUSDT-20261225 |
| future    | inverse | BASEQUOTE.INV-YYYYMMDD    | Bybit BTCUSDZ26 -> BTCUSD.INV-20261225    |
| option    | either  | future name-STRIKE-C or P | BTC-27MAR26-70000-P-USDT (Bybit) ->       |
|           |         |                           |   BTCUSDT-20260327-70000-P                |

Dates are the UTC expiry date. Assets go through `ASSET_ALIASES` first (MATIC -> POL). A
derivative quoted per N units of its base (Binance/Bybit `1000PEPEUSDT`, base `1000PEPE`) has
base `PEPE` and `price_multiplier` 1000, and keeps the `1000` in its canonical name and group
key, so prices of different scales never meet. Spot assets are never split (`1000SATS` is a token).

Group keys (`group_key`), the unit of cross-venue aggregation:

| instrument                                               | group key                   |
|----------------------------------------------------------|-----------------------------|
| spot or perpetual (linear or inverse), quote USD-class   | BASE + "USDT" (`BTCUSDT`)   |
| stablecoin pair, base and quote both USD-class (USDT-USD)| its canonical symbol        |
| spot or perpetual, other quote (BTC, EUR)                | BASE + QUOTE (`ETHBTC`)     |
| dated future, option (they carry basis)                  | None                        |
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, Literal

import msgspec

MarketType = Literal["spot", "perpetual", "future", "option"]
# trading: open; pending: listed, not yet trading (pre-launch); halted: paused, settling or
# cancel-only; delisted: closed for good (a listing may also simply drop the row)
Status = Literal["trading", "pending", "halted", "delisted"]
PutCall = Literal["C", "P"]

# Renamed or venue-specific asset codes -> the one code the product uses. Keep it small: only
# renames every venue has completed, and the historic XBT/XDG codes (Kraken, BitMEX, KuCoin).
ASSET_ALIASES: Final[Mapping[str, str]] = {
    "XBT": "BTC",  # Kraken, BitMEX, KuCoin futures
    "XDG": "DOGE",  # Kraken
    "MATIC": "POL",  # Polygon migration, 2024
    "RNDR": "RENDER",  # Render rebrand, 2024
}
# Quotes whose prices are treated as USD for grouping (the SPEC's default setting).
USD_EQUIVALENTS: Final[frozenset[str]] = frozenset({"USD", "USDT", "USDC"})
GROUP_QUOTE: Final = "USDT"
INVERSE_TAG: Final = ".INV"
# Separators the canonical scheme uses; an asset code containing one is rejected.
_RESERVED: Final = frozenset("-./_: \t")
_MULTIPLIER = re.compile(r"^(1000000|100000|10000|1000|1M)(?=[A-Z])(.{2,})$")
_MULTIPLIERS: Final[Mapping[str, int]] = {"1M": 1_000_000}


class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    """One instrument of one venue, as its listing describes it (or a naming rule guessed)."""

    venue: str  # venue id: binance, binance_futures, bybit, bybit_spot, coinbase, ...
    venue_symbol: str  # exactly as the venue spells it (BTC-USD, BTCUSDT_261225)
    symbol: str  # canonical name, see the module table
    base: str  # canonical asset code (aliased; multiplier prefix removed)
    quote: str  # canonical asset code of the quote currency
    market: MarketType
    inverse: bool = False  # coin-margined: contract value fixed in quote units
    contract_size: float = 1.0  # base units per contract (linear) or quote units (inverse)
    price_multiplier: int = 1  # base units one quoted price refers to (1000 for 1000PEPEUSDT)
    tick_size: float | None = None  # price step; None = unknown (naming rule, no listing)
    lot_size: float | None = None  # quantity step; None = unknown
    status: Status = "trading"
    expiry_ms: int | None = None  # futures/options expiry; perpetuals: announced delisting
    funding_interval_h: float | None = None  # perpetuals, when the listing states it
    settle: str | None = None  # settlement / margin asset, when the listing states it
    strike: float | None = None  # options only
    put_call: PutCall | None = None  # options only


class SkipRow(ValueError):
    """A listing row skipped on purpose, counted under `reason` instead of "malformed"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def canonical_asset(code: str) -> str:
    """Upper-case, alias-resolved asset code; ValueError if empty or holding a separator."""
    cleaned = code.strip().upper()
    if not cleaned or any(ch in _RESERVED for ch in cleaned):
        raise ValueError(f"bad asset code {code!r}")
    return ASSET_ALIASES.get(cleaned, cleaned)


def split_multiplier(asset: str) -> tuple[str, int]:
    """`1000PEPE` -> (`PEPE`, 1000), `1MBABYDOGE` -> (`BABYDOGE`, 1000000), `1INCH` -> unchanged."""
    match = _MULTIPLIER.match(asset)
    if match is None:
        return asset, 1
    prefix, rest = match.groups()
    return rest, _MULTIPLIERS.get(prefix) or int(prefix)


def positive_number(value: object) -> float:
    """A listing's step or size ("0.00000100", 0.5, 100) as a finite float > 0, else
    `SkipRow("bad_number")` (a ValueError)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise SkipRow("bad_number")
    try:
        number = float(value)
    except ValueError:
        raise SkipRow("bad_number") from None
    if not math.isfinite(number) or number <= 0:
        raise SkipRow("bad_number")
    return number


def optional_step(value: object) -> float | None:
    """A price or quantity step a listing may omit or disable (None, "", 0 -> None)."""
    if value is None or value == "":
        return None
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        try:
            if float(value) == 0:
                return None
        except ValueError:
            pass
    return positive_number(value)


def expiry_date(expiry_ms: int) -> str:
    """Epoch milliseconds -> the UTC date `YYYYMMDD` used in canonical names."""
    return datetime.fromtimestamp(expiry_ms / 1000, tz=UTC).strftime("%Y%m%d")


def format_strike(strike: float) -> str:
    """70000.0 -> `70000`, 2.5 -> `2.5` (no exponent, no trailing zeros)."""
    return format(Decimal(repr(strike)).normalize(), "f")


def _priced_base(base: str, price_multiplier: int) -> str:
    if price_multiplier == 1:
        return base
    return ("1M" if price_multiplier == 1_000_000 else str(price_multiplier)) + base


def canonical_name(
    *,
    base: str,
    quote: str,
    market: MarketType,
    inverse: bool = False,
    price_multiplier: int = 1,
    expiry_ms: int | None = None,
    strike: float | None = None,
    put_call: PutCall | None = None,
) -> str:
    """The canonical symbol of the module table; ValueError when a required part is missing."""
    pair = _priced_base(base, price_multiplier) + quote + (INVERSE_TAG if inverse else "")
    if market == "spot" and inverse:
        raise ValueError("a spot pair cannot be inverse")
    if market in ("spot", "perpetual"):
        return pair
    if expiry_ms is None:
        raise ValueError(f"{market} {pair} has no expiry")
    dated = f"{pair}-{expiry_date(expiry_ms)}"
    if market == "future":
        return dated
    if strike is None or put_call is None:
        raise ValueError(f"option {pair} needs a strike and C/P")
    return f"{dated}-{format_strike(strike)}-{put_call}"


def make_instrument(
    *, venue: str, venue_symbol: str, base: str, quote: str, market: MarketType, **fields: Any
) -> Instrument:
    """Build an Instrument from a venue's raw asset codes: alias them, split a derivative's
    multiplier prefix, check numbers and name it. `fields` are the optional Instrument fields.
    Raises ValueError (or TypeError) on anything invalid; listing parsers count and skip."""
    base_code, quote_code = canonical_asset(base), canonical_asset(quote)
    multiplier = int(fields.pop("price_multiplier", 1))
    if market != "spot" and multiplier == 1:
        base_code, multiplier = split_multiplier(base_code)
    for name in ("contract_size", "tick_size", "lot_size", "funding_interval_h", "strike"):
        if fields.get(name) is not None:
            fields[name] = positive_number(fields[name])
    if fields.get("settle") is not None:
        fields["settle"] = canonical_asset(fields["settle"])
    expiry = fields.get("expiry_ms")
    if expiry is not None and (type(expiry) is not int or expiry <= 0):
        raise ValueError(f"bad expiry {expiry!r}")
    symbol = canonical_name(
        base=base_code,
        quote=quote_code,
        market=market,
        inverse=bool(fields.get("inverse", False)),
        price_multiplier=multiplier,
        expiry_ms=fields.get("expiry_ms") if market in ("future", "option") else None,
        strike=fields.get("strike"),
        put_call=fields.get("put_call"),
    )
    return Instrument(
        venue=venue,
        venue_symbol=venue_symbol,
        symbol=symbol,
        base=base_code,
        quote=quote_code,
        market=market,
        price_multiplier=multiplier,
        **fields,
    )


def group_key(inst: Instrument, usd_quotes: Collection[str] = USD_EQUIVALENTS) -> str | None:
    """The cross-venue group of an instrument (module table); None for futures and options.

    `usd_quotes` is the USD-equivalent set (a setting; default USD, USDT, USDC)."""
    if inst.market not in ("spot", "perpetual"):
        return None
    base = _priced_base(inst.base, inst.price_multiplier)
    if inst.quote in usd_quotes:
        if inst.base in usd_quotes:
            return base + inst.quote  # a stablecoin's own price: a depeg monitor, not BTC-like
        return base + GROUP_QUOTE
    return base + inst.quote


def split_by_quote_suffix(symbol: str, quotes: Iterable[str]) -> tuple[str, str] | None:
    """Split a concatenated symbol by the longest quote it ends with (`LRCBTC` -> LRC, BTC).

    None when no quote matches or nothing would be left for the base."""
    upper = symbol.strip().upper()
    for quote in sorted(quotes, key=lambda q: (-len(q), q)):
        if upper.endswith(quote) and len(upper) > len(quote):
            return upper[: -len(quote)], quote
    return None


@dataclass(slots=True)
class ParsedListing:
    """What a listing parser kept, and how many rows it skipped or patched, per reason."""

    instruments: list[Instrument] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> rows dropped
    flagged: dict[str, int] = field(default_factory=dict)  # reason -> rows kept with a fallback

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def flag(self, reason: str) -> None:
        self.flagged[reason] = self.flagged.get(reason, 0) + 1

    def extend(self, other: ParsedListing) -> None:
        """Fold another page of the same listing into this one."""
        self.instruments.extend(other.instruments)
        for reason, count in other.skipped.items():
            self.skipped[reason] = self.skipped.get(reason, 0) + count
        for reason, count in other.flagged.items():
            self.flagged[reason] = self.flagged.get(reason, 0) + count


def decode_body(body: object, result: ParsedListing) -> object | None:
    """JSON text or bytes -> Python value; already decoded values pass through. None, counted
    as "bad_json" or "empty_body", when there is nothing to parse."""
    value = body
    if isinstance(body, bytes | bytearray | memoryview | str):
        try:
            value = msgspec.json.decode(body)
        except msgspec.DecodeError:
            result.skip("bad_json")
            return None
    if value is None:
        result.skip("empty_body")
    return value


RowParser = Callable[[Any, ParsedListing], Instrument]


def parse_rows(rows: object, parse_row: RowParser, result: ParsedListing) -> ParsedListing:
    """Apply `parse_row` to each row of a list, keeping what parses and counting the rest
    ("not_a_list", a `SkipRow` reason, or "malformed"). Never raises on bad input."""
    if not isinstance(rows, list):
        result.skip("not_a_list")
        return result
    for row in rows:
        try:
            result.instruments.append(parse_row(row, result))
        except SkipRow as skipped:
            result.skip(skipped.reason)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            result.skip("malformed")
    return result
