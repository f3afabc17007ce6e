"""The one table that maps canonical symbols (BTCUSDT) to each venue's names and back.

A canonical symbol is BASE + canonical quote (USDT). Each venue lists, per base asset, the
instrument it trades for it; Coinbase has USD books, so `BTCUSDT` maps to `BTC-USD` with
`quote="USD"`. Venue modules never build names by string edits: they call `venue_symbol()`
and `canonical_symbol()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

CANONICAL_QUOTE: Final = "USDT"

# Base assets with canonical <BASE>USDT symbols. Order matters only for listings.
BASES: Final = (
    "BTC", "ETH", "SOL", "BNB", "XRP", "DOGE", "ADA", "AVAX", "LINK", "DOT",
    "LTC", "BCH", "TRX", "NEAR", "ATOM", "UNI", "ETC", "FIL", "APT", "ARB",
    "OP", "INJ", "SUI", "SEI", "TIA", "AAVE", "MKR", "LDO", "RUNE", "STX",
    "IMX", "HBAR", "ICP", "XLM", "ALGO", "EGLD", "SAND", "MANA", "AXS", "GRT",
    "CRV", "SNX", "COMP", "DYDX", "FET", "RNDR", "WLD", "JUP", "PYTH", "ENA",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class VenueInstrument:
    venue_symbol: str  # exactly as the venue spells it
    quote: str  # the quote currency actually traded on that venue


def _concat(base: str) -> VenueInstrument:
    return VenueInstrument(f"{base}{CANONICAL_QUOTE}", CANONICAL_QUOTE)


def _dash_usd(base: str) -> VenueInstrument:
    return VenueInstrument(f"{base}-USD", "USD")


def _build_table() -> dict[str, dict[str, VenueInstrument]]:
    concat = {f"{b}{CANONICAL_QUOTE}": _concat(b) for b in BASES}
    return {
        "binance": concat,
        "binance_futures": concat,
        "bybit": concat,
        "bybit_spot": concat,
        "coinbase": {f"{b}{CANONICAL_QUOTE}": _dash_usd(b) for b in BASES},
    }


# venue -> canonical symbol -> instrument on that venue
SYMBOL_TABLE: Final[dict[str, dict[str, VenueInstrument]]] = _build_table()
# venue -> venue symbol (upper case) -> canonical symbol
_REVERSE: Final[dict[str, dict[str, str]]] = {
    venue: {inst.venue_symbol.upper(): canon for canon, inst in table.items()}
    for venue, table in SYMBOL_TABLE.items()
}
CANONICAL_SYMBOLS: Final = frozenset(f"{b}{CANONICAL_QUOTE}" for b in BASES)


def venue_instrument(venue: str, canonical: str) -> VenueInstrument | None:
    """The venue's instrument for a canonical symbol, or None if the venue lacks it."""
    return SYMBOL_TABLE.get(venue, {}).get(canonical)


def venue_symbol(venue: str, canonical: str) -> str | None:
    inst = venue_instrument(venue, canonical)
    return None if inst is None else inst.venue_symbol


def canonical_symbol(venue: str, venue_sym: str) -> str | None:
    """Map a venue's symbol (any case) to the canonical one; None for unknown symbols."""
    return _REVERSE.get(venue, {}).get(venue_sym.upper())


def is_known_symbol(canonical: str) -> bool:
    return canonical in CANONICAL_SYMBOLS
