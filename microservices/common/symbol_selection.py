"""The `SYMBOLS` setting: explicit canonical symbols and selectors (`top:N`, `perp:QUOTE`,
`spot:QUOTE`), parsed, then resolved against the venues' instruments.

Pure: imports only `common.instruments` and the standard library. A followed "symbol" is a
group key (`BTCUSDT`: every venue's BTC against a USD-class quote) or, for instruments that
join no group (dated futures, options), their canonical symbol.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from microservices.common.instruments import (
    USD_EQUIVALENTS,
    Instrument,
    canonical_asset,
    group_key,
    split_by_quote_suffix,
)

SelectorKind = Literal["top", "perp", "spot"]
SELECTOR_KINDS: Final[frozenset[str]] = frozenset({"top", "perp", "spot"})
_SEPARATORS = re.compile(r"[,\s]+")
MATCHES: Final = 3  # close matches offered per unknown symbol


class SymbolSelectionError(ValueError):
    """A `SYMBOLS` entry that cannot be parsed (a config error: fail at start-up)."""


@dataclass(frozen=True, slots=True)
class Selector:
    kind: SelectorKind
    n: int = 0  # top:N
    quote: str = ""  # perp:QUOTE, spot:QUOTE (canonical asset code)

    def __str__(self) -> str:
        return f"{self.kind}:{self.n if self.kind == 'top' else self.quote}"


@dataclass(frozen=True, slots=True)
class SymbolSelection:
    explicit: tuple[str, ...]  # upper-case names as written (BTC/USDT -> BTCUSDT)
    selectors: tuple[Selector, ...]


@dataclass(frozen=True, slots=True)
class Resolution:
    symbols: tuple[str, ...]  # followed symbols, in setting order, without duplicates
    unknown: dict[str, tuple[str, ...]] = field(default_factory=dict)  # entry -> close matches

    def error_message(self) -> str | None:
        """One start-up error line naming each unknown symbol and its close matches."""
        if not self.unknown:
            return None
        parts = [
            f"{name} (did you mean {', '.join(matches)}?)" if matches else name
            for name, matches in self.unknown.items()
        ]
        return "unknown symbols in SYMBOLS: " + "; ".join(parts)


def _selector(entry: str) -> Selector:
    kind, _, arg = entry.partition(":")
    kind = kind.strip().lower()
    if kind not in SELECTOR_KINDS or not arg.strip():
        raise SymbolSelectionError(f"bad selector {entry!r}: use top:N, perp:QUOTE or spot:QUOTE")
    if kind == "top":
        if not arg.strip().isdigit() or int(arg) < 1:
            raise SymbolSelectionError(f"bad selector {entry!r}: N must be a whole number >= 1")
        return Selector("top", n=int(arg))
    try:
        quote = canonical_asset(arg)
    except ValueError as exc:
        raise SymbolSelectionError(f"bad selector {entry!r}: {exc}") from None
    return Selector("perp" if kind == "perp" else "spot", quote=quote)


def parse_symbols(setting: str | Iterable[str]) -> SymbolSelection:
    """Parse `SYMBOLS` ("BTCUSDT, ETH/USDT, top:10" or a list) into explicit names and
    selectors; SymbolSelectionError for a bad selector or when nothing is selected."""
    entries = _SEPARATORS.split(setting) if isinstance(setting, str) else list(setting)
    explicit: list[str] = []
    selectors: list[Selector] = []
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        if ":" in entry:
            selectors.append(_selector(entry))
        else:
            name = entry.upper().replace("/", "")
            if name not in explicit:
                explicit.append(name)
    if not explicit and not selectors:
        raise SymbolSelectionError("SYMBOLS selects nothing")
    return SymbolSelection(tuple(explicit), tuple(selectors))


def follow_key(inst: Instrument, usd_quotes: Collection[str] = USD_EQUIVALENTS) -> str:
    """The followed symbol an instrument belongs to: its group key, else its canonical name."""
    return group_key(inst, usd_quotes) or inst.symbol


def known_symbols(
    instruments: Iterable[Instrument], usd_quotes: Collection[str] = USD_EQUIVALENTS
) -> dict[str, str]:
    """Every name a user may write (canonical symbols and group keys) -> its followed symbol;
    delisted instruments excluded."""
    known: dict[str, str] = {}
    for inst in instruments:
        if inst.status == "delisted":
            continue
        key = follow_key(inst, usd_quotes)
        known[key] = key
        known.setdefault(inst.symbol, key)
    return known


def rank_top(
    volumes_usd: Mapping[str, float], n: int, candidates: Collection[str] | None = None
) -> list[str]:
    """The `n` symbols with the largest 24 h USD volume (ties by name); volumes that are not
    finite and positive, and symbols outside `candidates` (when given), are ignored."""
    ranked = sorted(
        (
            (-volume, symbol)
            for symbol, volume in volumes_usd.items()
            if math.isfinite(volume) and volume > 0 and (candidates is None or symbol in candidates)
        )
    )
    return [symbol for _, symbol in ranked[:n]]


def usd_volume_by_symbol(
    volumes: Iterable[tuple[Instrument, float | None]],
    usd_quotes: Collection[str] = USD_EQUIVALENTS,
) -> dict[str, float]:
    """Sum (instrument, 24 h USD volume) pairs of the followed venues per followed symbol, the
    input of `rank_top`. Missing or non-finite volumes count as 0."""
    totals: dict[str, float] = {}
    for inst, volume in volumes:
        usable = volume if volume is not None and math.isfinite(volume) and volume > 0 else 0.0
        key = follow_key(inst, usd_quotes)
        totals[key] = totals.get(key, 0.0) + usable
    return totals


def close_matches(name: str, known: Iterable[str], n: int = MATCHES) -> tuple[str, ...]:
    """Known names that look like `name` (difflib ratio >= 0.6), best first."""
    import difflib  # only for a misspelt name: kept out of every start-up

    return tuple(difflib.get_close_matches(name, sorted(set(known)), n=n, cutoff=0.6))


def _aliased(name: str, known: Mapping[str, str], quotes: Collection[str]) -> str | None:
    """`MATICUSDT` -> the followed symbol of `POLUSDT`, when the alias table renames the base."""
    split = split_by_quote_suffix(name, quotes)
    if split is None:
        return None
    try:
        return known.get(canonical_asset(split[0]) + split[1])
    except ValueError:
        return None


def _selected(
    selector: Selector,
    tradable: Sequence[Instrument],
    volumes_usd: Mapping[str, float],
    usd_quotes: Collection[str],
) -> list[str]:
    keys = {follow_key(inst, usd_quotes) for inst in tradable}
    if selector.kind == "top":
        return rank_top(volumes_usd, selector.n, keys)
    market = "perpetual" if selector.kind == "perp" else "spot"
    return sorted(
        {
            follow_key(inst, usd_quotes)
            for inst in tradable
            if inst.market == market and inst.quote == selector.quote
        }
    )


def resolve_symbols(
    selection: SymbolSelection,
    instruments: Sequence[Instrument],
    volumes_usd: Mapping[str, float] | None = None,
    usd_quotes: Collection[str] = USD_EQUIVALENTS,
) -> Resolution:
    """Followed symbols for a selection. Explicit names (canonical symbols, group keys, aliased
    names, `BTC-USD` spellings) map to their followed symbol. Selectors consider trading
    instruments only; `top:N` ranks `volumes_usd` (followed symbol -> 24 h USD volume; none
    given selects nothing). Unknown explicit names come back with close followed symbols."""
    known = known_symbols(instruments, usd_quotes)
    quotes = {inst.quote for inst in instruments}
    chosen: dict[str, None] = {}
    unknown: dict[str, tuple[str, ...]] = {}
    for name in selection.explicit:
        key = known.get(name) or known.get(name.replace("-", "")) or _aliased(name, known, quotes)
        if key is None:
            unknown[name] = close_matches(name, known.values())
        else:
            chosen.setdefault(key)
    tradable = [inst for inst in instruments if inst.status == "trading"]
    for selector in selection.selectors:
        for key in _selected(selector, tradable, volumes_usd or {}, usd_quotes):
            chosen.setdefault(key)
    return Resolution(tuple(chosen), unknown)


def instruments_to_follow(
    symbols: Collection[str],
    instruments: Iterable[Instrument],
    usd_quotes: Collection[str] = USD_EQUIVALENTS,
) -> list[Instrument]:
    """The instruments (all venues) that serve the followed symbols, delisted ones excluded."""
    return [
        inst
        for inst in instruments
        if inst.status != "delisted" and follow_key(inst, usd_quotes) in symbols
    ]
