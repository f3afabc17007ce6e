"""The `alerts` entries of a listing refresh: `NEW_LISTING` for each instrument a venue newly
lists (the same refresh publishes it to `exchange.listings`), `DELISTING` for each one it
removed or marked delisted, and `RENAMED` where one refresh removed a venue symbol and added
another for the same canonical instrument (same market, base and quote after the alias table:
MATICUSDT -> POLUSDT), instead of that pair. Source `collector`; `data` holds the instrument's
names (a rename's also `old_venue_symbol`). Pure.
"""

from __future__ import annotations

from typing import Any

from microservices.common.catalog import Catalog
from microservices.common.instruments import Instrument
from microservices.common.market_alerts import MarketAlert
from microservices.data_collector.listing_cache import ListingDiff


def _data(catalog: Catalog, inst: Instrument) -> dict[str, Any]:
    return {
        "venue_symbol": inst.venue_symbol, "group": catalog.follow_key(inst), "base": inst.base,
        "quote": inst.quote, "market": inst.market, "status": inst.status,
    }  # fmt: skip


def _alert(catalog: Catalog, inst: Instrument, ts_ms: int, added: bool) -> MarketAlert:
    verb = "lists" if added else "delisted"
    return MarketAlert(
        ts_ms=ts_ms, source="collector", type="NEW_LISTING" if added else "DELISTING",
        severity="info" if added else "warning",
        reason=f"{inst.venue} {verb} {inst.venue_symbol} ({inst.market})",
        symbol=inst.symbol, venue=inst.venue, data=_data(catalog, inst),
    )  # fmt: skip


def _renamed(catalog: Catalog, old: Instrument, new: Instrument, ts_ms: int) -> MarketAlert:
    return MarketAlert(
        ts_ms=ts_ms, source="collector", type="RENAMED", severity="info",
        reason=f"{new.venue} renamed {old.venue_symbol} to {new.venue_symbol} ({new.market})",
        symbol=new.symbol, venue=new.venue,
        data=_data(catalog, new) | {"old_venue_symbol": old.venue_symbol},
    )  # fmt: skip


def listing_alerts(diff: ListingDiff, catalog: Catalog, ts_ms: int) -> list[MarketAlert]:
    """One alert per added (info) and delisted (warning) instrument, in the diff's order; a
    delisted and an added instrument of one canonical name are one rename."""
    removed = {(inst.venue, inst.symbol): inst for inst in diff.delisted}
    renamed: dict[str, Instrument] = {}  # new venue symbol -> the instrument it replaces
    for inst in diff.added:
        old = removed.get((inst.venue, inst.symbol))
        if old is not None and old.venue_symbol != inst.venue_symbol:
            renamed[inst.venue_symbol] = removed.pop((inst.venue, inst.symbol))
    added = [
        _renamed(catalog, renamed[inst.venue_symbol], inst, ts_ms)
        if inst.venue_symbol in renamed else _alert(catalog, inst, ts_ms, True)
        for inst in diff.added
    ]  # fmt: skip
    gone = [inst for inst in diff.delisted if (inst.venue, inst.symbol) in removed]
    return added + [_alert(catalog, inst, ts_ms, False) for inst in gone]
