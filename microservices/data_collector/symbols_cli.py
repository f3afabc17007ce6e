"""`cross-exchange symbols --venue V`: a venue's instruments, from the listing cache
(LISTING_CACHE_DIR) or, when there is none (or with `--fetch`), from the venue itself; a
fetched listing refreshes the cache. Tabular text, or `--json` (one object per instrument).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import aiohttp
import orjson

from microservices.common.catalog import Catalog
from microservices.common.clock import now_ms
from microservices.common.errors import BadMessage, FatalError, TransientError
from microservices.common.instruments import Instrument
from microservices.common.settings import Settings
from microservices.data_collector.exchanges import EXCHANGES
from microservices.data_collector.exchanges.base import Exchange
from microservices.data_collector.listing_cache import (
    ListingCacheError,
    listing_path,
    read_listing,
    save_listing,
)
from microservices.data_collector.listings import fetch_listing
from microservices.data_collector.rest_client import RestClient, rest_timeout
from microservices.data_collector.rest_errors import failure_fields

COLUMNS = ("venue_symbol", "symbol", "group", "base", "quote", "market", "status", "tick", "lot")


def _number(value: float | None) -> str:
    return "-" if value is None else format(value, ".10g")


def rows(instruments: Sequence[Instrument], catalog: Catalog) -> list[dict[str, Any]]:
    return [
        {
            "venue_symbol": i.venue_symbol, "symbol": i.symbol, "group": catalog.follow_key(i),
            "base": i.base, "quote": i.quote, "market": i.market, "inverse": i.inverse,
            "status": i.status, "tick_size": i.tick_size, "lot_size": i.lot_size,
            "contract_size": i.contract_size, "expiry_ms": i.expiry_ms,
        }
        for i in instruments
    ]  # fmt: skip


def table(items: list[dict[str, Any]]) -> str:
    """Aligned columns, a header line first."""
    cells = [list(COLUMNS)] + [
        [str(r[c]) for c in COLUMNS[:7]] + [_number(r["tick_size"]), _number(r["lot_size"])]
        for r in items
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


async def fetch(settings: Settings, exchange: Exchange) -> list[Instrument]:
    async with aiohttp.ClientSession(timeout=rest_timeout(settings)) as session:
        client = RestClient(session, timeout_s=settings.rest_timeout_s)
        try:
            return (await fetch_listing(client, exchange, attempts=2)).instruments
        except (TransientError, BadMessage) as exc:
            endpoint, cause = failure_fields(exc)
            raise FatalError(f"{exchange.name}: listing {endpoint or ''} failed: {cause}") from None


def load(settings: Settings, venue: str, refetch: bool) -> tuple[list[Instrument], str]:
    """(instruments, "cache" or "venue") of `venue`."""
    exchange = EXCHANGES[venue](
        [], settings.endpoint(venue, "ws"), settings.endpoint(venue, "rest")
    )
    path = (
        listing_path(Path(settings.listing_cache_dir), venue)
        if settings.listing_cache_dir
        else None
    )
    cached = None
    if path is not None and not refetch:
        try:
            cached = read_listing(path)
        except ListingCacheError:
            cached = None
    if cached is not None:
        return list(cached.instruments), "cache"
    instruments = asyncio.run(fetch(settings, exchange))
    if path is not None and instruments:
        save_listing(path, venue, instruments, now_ms())
    return instruments, "venue"


def run_symbols(
    settings: Settings, venue: str, *, as_json: bool, refetch: bool, out: IO[str]
) -> int:
    if venue not in EXCHANGES:
        raise FatalError(f"unknown venue {venue!r}; known: {', '.join(EXCHANGES)}")
    instruments, _source = load(settings, venue, refetch)
    catalog = Catalog(instruments, usd_quotes=settings.usd_equivalents)
    items = rows(instruments, catalog)
    if as_json:
        out.write(orjson.dumps(items, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        out.write(table(items) + "\n")
    return 0
