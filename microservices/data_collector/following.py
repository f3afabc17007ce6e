"""Which symbols the collector follows, and keeping that current.

At start the venues' listings are loaded (`listings.py`) into one catalog and SYMBOLS is
resolved against it: explicit names (canonical symbols, group keys, aliases, `BTC-USD`),
`perp:QUOTE`, `spot:QUOTE` and `top:N` (24 h USD volume summed over the collected venues, from
each venue's 24 h tickers). An unknown explicit name stops the start with close matches.
While running, listings are refreshed every LISTING_REFRESH_S and `top:N` re-ranked every
SYMBOLS_REFRESH_S; a new instrument is published to `exchange.listings`, a followed one that
is delisted is logged once and unsubscribed, and every change of the followed set reaches the
WebSocket connections through `on_change`. The followed set and each venue's instrument are
published in the hash `<prefix>collector.symbols` (for /api/v1/symbols). Each venue also
follows the stablecoin pairs it trades (`reference_symbols`), for the aggregator's USD prices.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aredis

from microservices.common import metrics
from microservices.common.catalog import Catalog
from microservices.common.clock import now_ms
from microservices.common.errors import BadMessage, FatalError, TransientError
from microservices.common.followed import UPDATED_FIELD, followed_key, instances_key
from microservices.common.instruments import Instrument
from microservices.common.producer import StreamProducer
from microservices.common.records import NewListing
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS, replace_hash
from microservices.common.settings import Settings
from microservices.common.streams import Stream
from microservices.common.symbol_selection import resolve_symbols, usd_volume_by_symbol
from microservices.common.usd_prices import volumes_in_usd
from microservices.data_collector.exchanges.base import Exchange
from microservices.data_collector.listing_alerts import listing_alerts
from microservices.data_collector.listing_cache import ListingDiff
from microservices.data_collector.listings import Listings
from microservices.data_collector.rest_client import RestClient
from microservices.data_collector.rest_errors import failure_fields

logger = logging.getLogger(__name__)
OnChange = Callable[[set[str]], Awaitable[None]]


def instrument_json(inst: Instrument) -> dict[str, Any]:
    """What /api/v1/symbols shows of one venue's instrument."""
    return {
        "venue_symbol": inst.venue_symbol, "symbol": inst.symbol, "base": inst.base,
        "quote": inst.quote, "market": inst.market, "inverse": inst.inverse,
        "tick_size": inst.tick_size, "lot_size": inst.lot_size, "status": inst.status,
        "contract_size": inst.contract_size,
    }  # fmt: skip


def new_listing(catalog: Catalog, inst: Instrument, ts_ms: int) -> NewListing:
    return NewListing(
        exchange=inst.venue, venue_symbol=inst.venue_symbol, symbol=inst.symbol,
        group=catalog.follow_key(inst), base=inst.base, quote=inst.quote, market=inst.market,
        status=inst.status, ts_ms=ts_ms, tick_size=inst.tick_size, lot_size=inst.lot_size,
    )  # fmt: skip


def reference_symbols(catalog: Catalog, venue: str) -> list[str]:
    """The stablecoin spot pairs `venue` trades (Coinbase USDT-USD, Binance USDCUSDT):
    followed alongside SYMBOLS so the aggregator sees stablecoins' own USD prices; never
    published as followed symbols. Spot only: a perpetual's price carries funding basis and
    would add funding and open-interest polls."""
    usd = catalog.usd
    found = (
        catalog.follow_key(inst)
        for inst in catalog.instruments(venue)
        if inst.base in usd and inst.quote in usd and inst.status == "trading"
        and inst.market == "spot"
    )  # fmt: skip
    return list(dict.fromkeys(found))


class Following:
    """The collector's followed symbols over its exchanges (each follows its own primaries)."""

    def __init__(
        self,
        settings: Settings,
        exchanges: Mapping[str, Exchange],
        producer: StreamProducer | None = None,
        redis: aredis.Redis | None = None,
    ) -> None:
        self.settings = settings
        self.exchanges = exchanges
        self.selection = settings.symbol_selection()
        self.producer = producer
        self.redis = redis
        self.stream: Stream[Any] = settings.streams().listings
        self.alerts: Stream[Any] = settings.streams().market_alerts
        cache = Path(settings.listing_cache_dir) if settings.listing_cache_dir else None
        self.listings = Listings(
            exchanges, None, cache, max_age_s=settings.listing_cache_max_age_s,
            usd_quotes=settings.usd_equivalents,
        )  # fmt: skip
        self.catalog = Catalog([], usd_quotes=settings.usd_equivalents)
        self.volumes: dict[str, float] = {}
        self.symbols: tuple[str, ...] = tuple(settings.explicit_symbols())

    @property
    def ranks(self) -> bool:
        return any(s.kind == "top" for s in self.selection.selectors)

    # ------------------------------------------------------------------ start
    async def start(self, client: RestClient | None) -> None:
        """Load the listings, rank `top:N`, resolve SYMBOLS and follow; FatalError naming
        every unknown symbol with its close matches."""
        self.listings.client = client
        catalog = await self.listings.load(self.selection.explicit)
        if self.ranks:
            self.volumes = await self.rank(catalog, client)
        resolution = resolve_symbols(
            self.selection, catalog.instruments(), self.volumes, catalog.usd
        )
        message = resolution.error_message()
        if message is not None:
            raise FatalError(message)
        self.apply(catalog, resolution.symbols)
        logger.info("symbols.followed", extra={"symbols": list(self.symbols)})
        if not self.symbols:  # top:N without 24 h volumes, a selector matching nothing
            logger.warning("symbols.none_followed", extra={"setting": self.settings.symbols})
        await self.publish_followed()

    async def rank(self, catalog: Catalog, client: RestClient | None) -> dict[str, float]:
        """24 h USD volume per followed symbol over the collected venues (a venue whose
        tickers fail or that has none counts 0)."""
        rows: list[tuple[Instrument, float | None, float | None]] = []
        for venue, exchange in self.exchanges.items():
            request = exchange.tickers_24h_request()
            if client is None or request is None:
                continue
            try:
                payload = await client.get_json(exchange, request, attempts=2)
            except (TransientError, BadMessage) as exc:
                logger.warning(
                    "symbols.volume_failed",
                    extra={"exchange": venue, "cause": failure_fields(exc)[1]},
                )
                continue
            for row in exchange.parse_tickers_24h(payload):
                inst = catalog.by_venue_symbol(venue, row.venue_symbol)
                if inst is not None and inst.status == "trading":
                    rows.append((inst, row.last, row.quote_volume))
        return usd_volume_by_symbol(volumes_in_usd(rows, catalog.usd), catalog.usd)

    # ------------------------------------------------------------------ changes
    def apply(self, catalog: Catalog, symbols: tuple[str, ...]) -> set[str]:
        """Use `catalog` and follow `symbols` on every exchange; the venues whose followed
        instruments changed."""
        self.catalog, self.symbols = catalog, symbols
        changed: set[str] = set()
        for venue, exchange in self.exchanges.items():
            before = {s: exchange.venue_symbol(s) for s in exchange.symbols}
            exchange.catalog = catalog
            exchange.follow(dict.fromkeys((*symbols, *reference_symbols(catalog, venue))))
            if before != {s: exchange.venue_symbol(s) for s in exchange.symbols}:
                changed.add(venue)
        metrics.FOLLOWED_SYMBOLS.set(len(symbols))
        return changed

    async def run(self, stop: asyncio.Event, on_change: OnChange) -> None:
        """Refresh listings and the `top:N` ranking when due, until `stop`."""
        refresh_s = self.settings.listing_refresh_s
        rank_due = now_ms() + int(self.settings.symbols_refresh_s * 1000)
        while not stop.is_set():
            due = {v: self.listings.next_refresh_ms(v, refresh_s) for v in self.exchanges}
            next_ms = min([*due.values(), rank_due] if self.ranks else due.values(), default=0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(1.0, (next_ms - now_ms()) / 1000))
            if stop.is_set():
                return
            now = now_ms()
            for venue in [v for v, t in due.items() if t <= now]:
                diff = await self.listings.refresh(venue)
                if diff is not None:
                    self.announce(diff)
            if self.ranks and rank_due <= now:
                self.volumes = await self.rank(self.listings.catalog(), self.listings.client)
                rank_due = now + int(self.settings.symbols_refresh_s * 1000)
            await self.update(on_change)

    async def update(self, on_change: OnChange) -> None:
        """Resolve SYMBOLS against the current listings; tell `on_change` which venues'
        followed instruments changed, and publish the followed set."""
        catalog = self.listings.catalog()
        resolution = resolve_symbols(self.selection, catalog.instruments(), self.volumes,
                                     catalog.usd)  # fmt: skip
        if resolution.unknown:
            logger.warning("symbols.unknown", extra={"symbols": sorted(resolution.unknown)})
        before = self.symbols
        changed = self.apply(catalog, resolution.symbols)
        if changed or before != self.symbols:
            logger.info("symbols.changed", extra={"added": sorted(set(self.symbols) - set(before)),
                        "removed": sorted(set(before) - set(self.symbols)),
                        "venues": sorted(changed)})  # fmt: skip
            await on_change(changed)
        await self.publish_followed()

    def announce(self, diff: ListingDiff) -> None:
        """Publish new instruments to exchange.listings, NEW_LISTING and DELISTING alerts to
        `alerts`; log followed ones that were delisted (the diff is computed once per
        refresh, so each is logged once)."""
        ts = now_ms()
        catalog = self.listings.catalog()
        for inst in diff.added:
            metrics.LISTING_CHANGES.labels(inst.venue, "added").inc()
            if self.producer is not None:
                self.producer.publish(self.stream, new_listing(catalog, inst, ts))
        if self.producer is not None:  # NEW_LISTING and DELISTING on the alerts stream
            for alert in listing_alerts(diff, catalog, ts):
                self.producer.publish(self.alerts, alert)
        for inst in diff.delisted:
            metrics.LISTING_CHANGES.labels(inst.venue, "delisted").inc()
            if self.exchanges[inst.venue].record_head(inst.venue_symbol) is not None:
                fields = {"exchange": inst.venue, "venue_symbol": inst.venue_symbol}
                logger.warning("listing.delisted", extra={**fields, "symbol": inst.symbol})
        if diff.added:
            logger.info("listing.added", extra={"exchange": diff.added[0].venue,
                        "venue_symbols": [i.venue_symbol for i in diff.added[:20]],
                        "count": len(diff.added)})  # fmt: skip

    # ------------------------------------------------------------------ publication
    def followed_json(self) -> dict[str, dict[str, Any]]:
        """Followed symbol -> {venue: its instrument there}, what /api/v1/symbols lists."""
        out: dict[str, dict[str, Any]] = {}
        for symbol in self.symbols:
            venues = {}
            for venue, exchange in self.exchanges.items():
                inst = exchange.instrument(symbol)
                if inst is not None:
                    venues[venue] = instrument_json(inst)
            out[symbol] = venues
        return out

    async def publish_followed(self) -> None:
        """Replace this collector's hash `<prefix>collector.symbols[.<COLLECTOR_ID>]` (see
        `common.followed`; a Redis outage is skipped: the next change or refresh publishes
        again)."""
        if self.redis is None:
            return
        prefix, collector_id = self.settings.stream_prefix, self.settings.collector_id
        key = followed_key(prefix, collector_id)
        fields = {s: orjson.dumps(v) for s, v in self.followed_json().items()}
        fields[UPDATED_FIELD] = str(now_ms()).encode()
        with contextlib.suppress(*TRANSIENT_REDIS_ERRORS):
            await replace_hash(self.redis, key, fields)
            if collector_id:  # one of several collectors: readers merge the parts
                await self.redis.sadd(instances_key(prefix), collector_id)
