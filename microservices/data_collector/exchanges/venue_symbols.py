"""The symbol seams of an `Exchange`, through the instrument catalog, and the listing hooks
its package implements.

An exchange follows a set of symbols (group keys such as `BTCUSDT`, see `common.catalog`);
for each it subscribes its primary instrument. A frame's venue symbol maps to a record header
(`Head`: exchange, market, canonical symbol, venue symbol, group, quote) only for followed
instruments; any other symbol is `not_followed` when the venue lists it (or, without a
listing, its naming rule can name it) and `unknown_symbol` otherwise.

The listing hooks (`listing_request`, `parse_listing`, `symbol_instrument`, the 24 h
tickers) are pure: each exchange package fills them from its `listing.py`. No I/O here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final

from microservices.common.catalog import DEFAULT_CONTRACT_ORDER, DEFAULT_QUOTE_ORDER, Catalog
from microservices.common.instruments import (
    USD_EQUIVALENTS,
    Instrument,
    ParsedListing,
    split_by_quote_suffix,
)
from microservices.common.records import Market

if TYPE_CHECKING:  # base.py imports this module
    from microservices.data_collector.exchanges.base import RestRequest

Head = dict[str, Any]  # exchange, market, symbol, venue_symbol, group, quote
NOT_FOLLOWED: Final = "not_followed"
UNKNOWN_SYMBOL: Final = "unknown_symbol"
MAX_CACHED: Final = 10_000  # venue symbols remembered from the wire, per exchange


@dataclass(frozen=True, slots=True)
class Volume24h:
    """One row of a venue's 24 h tickers: the input of `top:N`."""

    venue_symbol: str
    last: float | None  # last price, quote units
    quote_volume: float | None  # 24 h volume in quote units
    price_change_pct: float | None = None  # 24 h price change in percent; None: not given

    @classmethod
    def from_row(
        cls, venue_symbol: str, last: object, quote_volume: object, change_pct: object = None
    ) -> Volume24h:
        """From a tickers row's values as sent (numbers or numeric strings); a value that is
        not a finite number >= 0 (any finite number for the change) becomes None."""
        change = _finite(change_pct)
        return cls(venue_symbol, _non_negative(last), _non_negative(quote_volume), change)


def percent_of_fraction(value: object) -> float | None:
    """A 24 h change sent as a fraction ("0.0123") in percent (1.23); None when not a number."""
    fraction = _finite(value)
    return None if fraction is None else fraction * 100.0


def percent_from_open(last: object, open_24h: object) -> float | None:
    """The 24 h change in percent from the last price and the price 24 h ago (OKX `open24h`)."""
    now, then = _non_negative(last), _non_negative(open_24h)
    return None if now is None or not then else (now / then - 1.0) * 100.0


def _finite(value: object) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _non_negative(value: object) -> float | None:
    number = _finite(value)
    return number if number is not None and number >= 0 else None


class VenueSymbols:
    """Mixin of `Exchange`: followed symbols, their instruments and record headers."""

    name: ClassVar[str]
    market: ClassVar[Market]
    # the primary rule's quote order (`common.catalog`); a venue may put its deep books first
    quote_order: ClassVar[tuple[str, ...]] = DEFAULT_QUOTE_ORDER
    # the primary rule's contract order ("linear", "inverse"): a venue whose deep books are
    # its inverse contracts (Deribit) puts "inverse" first
    contract_order: ClassVar[tuple[str, ...]] = DEFAULT_CONTRACT_ORDER
    # how the venue spells BASE/QUOTE, used to guess instruments without a listing
    symbol_format: ClassVar[str] = "{base}{quote}"
    # quotes the naming rule splits followed symbols by (the listing module's set)
    rule_quotes: ClassVar[frozenset[str]] = frozenset(DEFAULT_QUOTE_ORDER)

    catalog: Catalog
    symbols: tuple[str, ...]
    _follow_any: bool = False  # normalize: every instrument listed or named, as it comes
    _primary: dict[str, Instrument]
    _heads: dict[str, Head]
    _reasons: dict[str, str]

    # ------------------------------------------------------------------ package hooks
    def symbol_instrument(self, venue_symbol: str) -> Instrument | None:
        """The venue's naming rule: an Instrument guessed from a symbol alone, or None."""
        return None

    def listing_request(self, cursor: str | None) -> RestRequest | None:
        """The request of one listing page (`cursor` from the previous page, None first);
        None when the venue has no listing endpoint."""
        return None

    def parse_listing(self, payload: Any) -> tuple[ParsedListing, str | None]:
        """(instruments of one listing page, cursor of the next page or None)."""
        return ParsedListing(), None

    def tickers_24h_request(self) -> RestRequest | None:
        """Every symbol's 24 h ticker in one request, for `top:N`; None when the venue has
        no such endpoint (its volume then counts as 0)."""
        return None

    def parse_tickers_24h(self, payload: Any) -> list[Volume24h]:
        return []

    # ------------------------------------------------------------------ set-up
    def _init_symbols(self, symbols: Sequence[str], catalog: Catalog | None) -> None:
        self.catalog = catalog if catalog is not None else self.rule_catalog(symbols)
        self.follow(symbols)

    def rule_catalog(self, symbols: Iterable[str]) -> Catalog:
        """A catalog of this venue guessed by its naming rule for `symbols` (no listing)."""
        found = [inst for s in symbols for inst in self.guess_instruments(s)]
        return Catalog(found, quote_order={self.name: self.quote_order},
                       contract_order={self.name: self.contract_order})  # fmt: skip

    def guess_instruments(
        self, followed: str, usd_quotes: Iterable[str] = USD_EQUIVALENTS
    ) -> list[Instrument]:
        """Instruments the naming rule names for a followed symbol: `BTCUSDT` gives the
        venue's BTC against each USD-class quote of its order (Coinbase BTC-USD, BTC-USDT,
        BTC-USDC), `ETHBTC` ETH/BTC. The venue may list none of them."""
        usd = frozenset(usd_quotes)
        split = split_by_quote_suffix(followed, self.rule_quotes | usd)
        if split is None:
            return []
        base, quote = split
        quotes = [q for q in self.quote_order if q in usd] if quote in usd else [quote]
        out: list[Instrument] = []
        for candidate in quotes or [quote]:
            inst = self.symbol_instrument(self.symbol_format.format(base=base, quote=candidate))
            if inst is not None and inst.venue_symbol not in {i.venue_symbol for i in out}:
                out.append(inst)
        return out

    def follow(self, symbols: Iterable[str]) -> None:
        """Follow `symbols` (group keys or canonical names) through their primary
        instruments; symbols the venue lacks are left out of `self.symbols`."""
        primary: dict[str, Instrument] = {}
        for symbol in symbols:
            inst = self.catalog.primary(self.name, symbol)
            if inst is not None:
                primary.setdefault(symbol, inst)
        self._set_followed(primary, primary.values())

    def follow_all(self) -> None:
        """Follow every instrument the catalog lists for this venue (`normalize`): records
        for each, whichever is primary."""
        instruments = self.catalog.instruments(self.name)
        primary: dict[str, Instrument] = {}
        for key in dict.fromkeys(self.catalog.follow_key(i) for i in instruments):
            inst = self.catalog.primary(self.name, key)
            if inst is not None:
                primary[key] = inst
        self._set_followed(primary, instruments)

    def follow_any(self) -> None:
        """Follow every instrument the catalog lists and, for a venue without a listing,
        every one its naming rule names, as frames bring them (`normalize`)."""
        self.follow_all()
        self._follow_any = True

    def set_catalog(self, catalog: Catalog) -> None:
        """Use a refreshed catalog, keeping the followed symbols."""
        symbols = self.symbols
        self.catalog = catalog
        self.follow(symbols)

    def _set_followed(self, primary: dict[str, Instrument], heads: Iterable[Instrument]) -> None:
        self._primary = primary
        self.symbols = tuple(primary)
        self._heads = {inst.venue_symbol: self.instrument_head(inst) for inst in heads}
        self._reasons = {}

    # ------------------------------------------------------------------ seams
    def instrument_head(self, inst: Instrument) -> Head:
        """The record header of an instrument of this venue."""
        return {
            "exchange": self.name,
            "market": self.market,
            "symbol": inst.symbol,
            "venue_symbol": inst.venue_symbol,
            "group": self.catalog.follow_key(inst),
            "quote": inst.quote,
        }

    def instrument(self, followed: str) -> Instrument | None:
        """The primary instrument subscribed for a followed symbol."""
        return self._primary.get(followed)

    def venue_symbol(self, followed: str) -> str | None:
        """The venue's name for a followed symbol; None when the venue does not list it."""
        inst = self._primary.get(followed)
        return None if inst is None else inst.venue_symbol

    def to_venue(self, followed: str) -> str:
        inst = self._primary.get(followed)
        if inst is None:
            raise KeyError(f"{self.name} has no instrument for {followed}")
        return inst.venue_symbol

    def symbol_head(self, followed: str) -> Head:
        """Record header of a followed symbol's primary instrument (REST answers)."""
        return dict(self._heads[self.to_venue(followed)])

    def record_head(self, venue_symbol: str) -> Head | None:
        """Record header of a frame's venue symbol; None when it is not followed."""
        head = self._heads.get(venue_symbol)
        if head is None:
            if not venue_symbol.isupper():
                head = self._heads.get(venue_symbol.upper())
            if head is None and self._follow_any:
                inst = self.listed_instrument(venue_symbol)
                if inst is not None and len(self._heads) < MAX_CACHED:
                    head = self._heads[venue_symbol] = self.instrument_head(inst)
        return head

    def listed_instrument(self, venue_symbol: str) -> Instrument | None:
        """The instrument the venue's listing has for a symbol; without a listing, the one
        its naming rule names."""
        inst = self.catalog.by_venue_symbol(self.name, venue_symbol)
        if inst is None and self.name not in self.catalog.listed:
            inst = self.symbol_instrument(venue_symbol)
        return inst

    def to_canonical(self, venue_symbol: str) -> str | None:
        """Canonical name of a followed instrument's venue symbol, else None."""
        head = self.record_head(venue_symbol)
        return None if head is None else str(head["symbol"])

    def unfollowed_reason(self, venue_symbol: object) -> str:
        """Why a frame's symbol has no header: `not_followed` for an instrument the venue
        lists (or, without a listing, its naming rule names), else `unknown_symbol`."""
        if not isinstance(venue_symbol, str):
            return UNKNOWN_SYMBOL
        reason = self._reasons.get(venue_symbol)
        if reason is None:
            inst = self.listed_instrument(venue_symbol)
            reason = UNKNOWN_SYMBOL if inst is None else NOT_FOLLOWED
            if len(self._reasons) < MAX_CACHED:  # bounded: symbols come from the wire
                self._reasons[venue_symbol] = reason
        return reason
