"""The `alerts` entries of a listing refresh: `NEW_LISTING` for each instrument a venue newly
lists (the same refresh publishes it to `exchange.listings`) and `DELISTING` for each one it
removed or marked delisted. Source `collector`; `data` holds the instrument's names. Pure.
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


def listing_alerts(diff: ListingDiff, catalog: Catalog, ts_ms: int) -> list[MarketAlert]:
    """One alert per added (info) and delisted (warning) instrument, in the diff's order."""
    added = [_alert(catalog, inst, ts_ms, True) for inst in diff.added]
    return added + [_alert(catalog, inst, ts_ms, False) for inst in diff.delisted]
