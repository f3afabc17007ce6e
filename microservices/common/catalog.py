"""One instrument catalog: every venue's instruments, indexed by venue symbol, canonical name
and followed symbol, and the rule that picks the one instrument a venue subscribes per
followed symbol (its primary).

A followed symbol is a cross-venue group key (`BTCUSDT`: BTC against any USD-class quote,
spot and perpetuals alike) or, for instruments that join no group (dated futures, options),
their canonical name (`instruments.group_key`, `symbol_selection.follow_key`).

Primary instrument of a venue for a followed symbol (`primary_rank`), best first:
1. status: trading, then pending, then halted (delisted instruments are never chosen);
2. contract kind, in the venue's order (`Exchange.contract_order`; default linear before
   inverse; Deribit inverse first: BTC-PERPETUAL is its deep book, not BTC_USDC-PERPETUAL);
3. quote, in the venue's order (`Exchange.quote_order`; default USDT, USD, USDC; Coinbase
   USD first, where its deep books are); quotes outside the order come last;
4. no price multiplier before a multiplied contract (`1000PEPEUSDT`);
5. venue symbol, alphabetically (a stable tie-break).

Pure: imports only `common.instruments`, `common.symbol_selection` and the standard library.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Final

from microservices.common.instruments import USD_EQUIVALENTS, Instrument
from microservices.common.symbol_selection import follow_key, known_symbols

DEFAULT_QUOTE_ORDER: Final = ("USDT", "USD", "USDC")
DEFAULT_CONTRACT_ORDER: Final = ("linear", "inverse")
_STATUS_RANK: Final = {"trading": 0, "pending": 1, "halted": 2}

Rank = tuple[int, int, int, bool, str]


def _index(order: Sequence[str], value: str) -> int:
    return order.index(value) if value in order else len(order)


def primary_rank(
    inst: Instrument,
    quote_order: Sequence[str] = DEFAULT_QUOTE_ORDER,
    contract_order: Sequence[str] = DEFAULT_CONTRACT_ORDER,
) -> Rank:
    """Sort key of the primary rule (module docstring): the smallest key wins."""
    status = _STATUS_RANK.get(inst.status, len(_STATUS_RANK))
    contract = _index(contract_order, "inverse" if inst.inverse else "linear")
    quote, multiplied = _index(quote_order, inst.quote), inst.price_multiplier != 1
    return (status, contract, quote, multiplied, inst.venue_symbol)


class Catalog:
    """Immutable index of instruments of any number of venues.

    `listed` names the venues whose instruments come from a real listing (a fetch or the
    cache); the others were guessed by a naming rule, so a symbol missing from them may
    still exist (`Exchange.unfollowed_reason`)."""

    __slots__ = (
        "_by_symbol", "_by_vsym", "_groups", "_insts", "contract_order", "listed", "quote_order",
        "usd",
    )  # fmt: skip

    def __init__(
        self,
        instruments: Iterable[Instrument],
        *,
        usd_quotes: Collection[str] = USD_EQUIVALENTS,
        quote_order: Mapping[str, Sequence[str]] | None = None,
        listed: Iterable[str] = (),
        contract_order: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.usd: frozenset[str] = frozenset(usd_quotes)
        self.quote_order: dict[str, tuple[str, ...]] = {
            venue: tuple(order) for venue, order in (quote_order or {}).items()
        }
        self.contract_order: dict[str, tuple[str, ...]] = {
            venue: tuple(order) for venue, order in (contract_order or {}).items()
        }
        self.listed: frozenset[str] = frozenset(listed)
        self._insts: dict[str, tuple[Instrument, ...]] = {}
        self._by_vsym: dict[tuple[str, str], Instrument] = {}
        self._by_symbol: dict[tuple[str, str], Instrument] = {}
        self._groups: dict[str, list[Instrument]] = {}
        by_venue: dict[str, list[Instrument]] = {}
        for inst in instruments:
            if (inst.venue, inst.venue_symbol) in self._by_vsym:
                continue  # a listing repeating a row: the first one wins
            by_venue.setdefault(inst.venue, []).append(inst)
            self._by_vsym[inst.venue, inst.venue_symbol] = inst
            self._by_symbol.setdefault((inst.venue, inst.symbol), inst)
            self._groups.setdefault(follow_key(inst, self.usd), []).append(inst)
        self._insts = {venue: tuple(found) for venue, found in by_venue.items()}

    # ------------------------------------------------------------------ lookups
    def venues(self) -> tuple[str, ...]:
        return tuple(self._insts)

    def instruments(self, venue: str | None = None) -> tuple[Instrument, ...]:
        """One venue's instruments in listing order, or every venue's."""
        if venue is not None:
            return self._insts.get(venue, ())
        return tuple(inst for found in self._insts.values() for inst in found)

    def by_venue_symbol(self, venue: str, venue_symbol: str) -> Instrument | None:
        """The instrument a venue spells `venue_symbol` (exact, else upper case)."""
        found = self._by_vsym.get((venue, venue_symbol))
        if found is None and not venue_symbol.isupper():
            found = self._by_vsym.get((venue, venue_symbol.upper()))
        return found

    def by_symbol(self, venue: str, canonical: str) -> Instrument | None:
        """A venue's instrument with canonical name `canonical`."""
        return self._by_symbol.get((venue, canonical))

    def follow_key(self, inst: Instrument) -> str:
        """The followed symbol `inst` belongs to (its group key, else its canonical name)."""
        return follow_key(inst, self.usd)

    def members(self, followed: str, venue: str | None = None) -> tuple[Instrument, ...]:
        """Every instrument (of `venue`, or of all venues) serving `followed`."""
        found = self._groups.get(followed, ())
        return tuple(i for i in found if venue is None or i.venue == venue)

    def primary(self, venue: str, followed: str) -> Instrument | None:
        """The instrument `venue` subscribes for `followed` (module docstring), or None."""
        order = self.quote_order.get(venue, DEFAULT_QUOTE_ORDER)
        contracts = self.contract_order.get(venue, DEFAULT_CONTRACT_ORDER)
        candidates = [i for i in self.members(followed, venue) if i.status != "delisted"]
        return min(candidates, key=lambda i: primary_rank(i, order, contracts), default=None)

    def primaries(self, followed: str) -> dict[str, Instrument]:
        """venue -> primary instrument for `followed`, venues without one left out."""
        out: dict[str, Instrument] = {}
        for venue in self._insts:
            inst = self.primary(venue, followed)
            if inst is not None:
                out[venue] = inst
        return out

    def known(self) -> dict[str, str]:
        """Every name a user may write in SYMBOLS -> its followed symbol."""
        return known_symbols(self.instruments(), self.usd)

    # ------------------------------------------------------------------ changes
    def with_venue(
        self, venue: str, instruments: Iterable[Instrument], *, listed: bool = True
    ) -> Catalog:
        """A new catalog where `venue`'s instruments are replaced (a refreshed listing)."""
        kept = [i for i in self.instruments() if i.venue != venue]
        names = self.listed | {venue} if listed else self.listed - {venue}
        return Catalog(
            [*kept, *instruments], usd_quotes=self.usd, quote_order=self.quote_order,
            listed=names, contract_order=self.contract_order,
        )  # fmt: skip

    def __len__(self) -> int:
        return len(self._by_vsym)
