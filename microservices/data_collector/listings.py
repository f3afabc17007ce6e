"""Instrument listings of the collected venues: loaded at start, refreshed periodically and
cached on disk, so that neither a restart nor a venue outage blocks the start.

At start, per venue: a cached listing younger than LISTING_CACHE_MAX_AGE_S is used as is;
otherwise the venue's listing is fetched (every page, through the polite REST client) and, when
that fails, the cache is used however old; with neither, the venue's naming rule names the
followed symbols' instruments. A refresh that fails, or that drops most instruments (a
truncated answer, not a mass delisting: `listing_cache.choose_listing`), keeps the last good
listing; both are counted (ce_listing_failures_total) and logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from microservices.common import metrics
from microservices.common.catalog import Catalog
from microservices.common.clock import now_ms
from microservices.common.errors import BadMessage, TransientError
from microservices.common.instruments import Instrument, ParsedListing
from microservices.data_collector.exchanges.base import Exchange
from microservices.data_collector.listing_cache import (
    FORMAT_VERSION,
    CachedListing,
    ListingCacheError,
    ListingDiff,
    choose_listing,
    diff_listings,
    listing_path,
    read_listing,
    save_listing,
)
from microservices.data_collector.rest_client import RestClient
from microservices.data_collector.rest_errors import failure_fields

logger = logging.getLogger(__name__)
MAX_PAGES: Final = 50  # Bybit linear: ~600 instruments, 1 page of 1000
START_ATTEMPTS: Final = 2  # at start a venue that is down costs seconds, not minutes
RETRY_AFTER_MS: Final = 60_000  # a failed or refused listing is asked again after a minute
Source = Literal["venue", "cache", "rule"]


@dataclass(frozen=True, slots=True)
class VenueListing:
    """The listing a venue uses: where it came from and when the venue served it."""

    venue: str
    instruments: tuple[Instrument, ...]
    source: Source
    fetched_ms: int | None = None  # None for the naming rule


async def fetch_listing(client: RestClient, exchange: Exchange, attempts: int = 4) -> ParsedListing:
    """Every page of a venue's listing (each page tried `attempts` times). TransientError or
    BadMessage when a page fails; BadMessage when the venue has no listing endpoint or never
    stops paginating."""
    result, cursor = ParsedListing(), None
    for _ in range(MAX_PAGES):
        request = exchange.listing_request(cursor)
        if request is None:
            raise BadMessage(f"{exchange.name} has no listing endpoint")
        payload = await client.get_json(exchange, request, attempts)
        page, cursor = exchange.parse_listing(payload)
        result.extend(page)
        if cursor is None:
            return result
    raise BadMessage(f"{exchange.name} listing has more than {MAX_PAGES} pages")


class Listings:
    """The listings of a set of venues (one `Exchange` each) and the catalog built from them."""

    def __init__(
        self,
        exchanges: Mapping[str, Exchange],
        client: RestClient | None,
        cache_dir: Path | None,
        *,
        max_age_s: float,
        usd_quotes: Iterable[str],
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.exchanges = exchanges
        self.client = client
        self.cache_dir = cache_dir
        self.max_age_ms = int(max_age_s * 1000)
        self.usd_quotes = tuple(usd_quotes)
        self.clock = clock
        self.listings: dict[str, VenueListing] = {}
        self.tried_ms: dict[str, int] = {}  # venue -> when a fetch last failed or was refused

    # ------------------------------------------------------------------ catalog
    def catalog(self) -> Catalog:
        listed = [v for v, item in self.listings.items() if item.source != "rule"]
        return Catalog(
            (inst for item in self.listings.values() for inst in item.instruments),
            usd_quotes=self.usd_quotes,
            quote_order={venue: ex.quote_order for venue, ex in self.exchanges.items()},
            contract_order={venue: ex.contract_order for venue, ex in self.exchanges.items()},
            listed=listed,
        )

    # ------------------------------------------------------------------ start
    async def load(self, names: Iterable[str]) -> Catalog:
        """Every venue's listing at start (concurrently); `names` (the explicit SYMBOLS) are
        what a venue's naming rule names when it has neither a listing nor a cache."""
        wanted = tuple(names)
        await asyncio.gather(*(self._load(ex, wanted) for ex in self.exchanges.values()))
        return self.catalog()

    async def _load(self, exchange: Exchange, names: tuple[str, ...]) -> None:
        cached = self._read_cache(exchange.name)
        if cached is not None and self.clock() - cached.fetched_ms <= self.max_age_ms:
            self._use(VenueListing(exchange.name, cached.instruments, "cache", cached.fetched_ms))
            return
        fresh = await self._fetch(exchange, START_ATTEMPTS)
        chosen = choose_listing(cached, fresh)
        if fresh is None or chosen is not fresh:
            self.tried_ms[exchange.name] = self.clock()
        if chosen is None:
            guessed = [i for n in names for i in exchange.guess_instruments(n, self.usd_quotes)]
            self._use(VenueListing(exchange.name, tuple(dict.fromkeys(guessed)), "rule"))
        elif chosen is fresh:
            self._save(chosen)
            self._use(VenueListing(exchange.name, chosen.instruments, "venue", chosen.fetched_ms))
        else:
            self._implausible(exchange.name, fresh)
            self._use(VenueListing(exchange.name, chosen.instruments, "cache", chosen.fetched_ms))

    # ------------------------------------------------------------------ refresh
    async def refresh(self, venue: str) -> ListingDiff | None:
        """Fetch one venue's listing again; the diff against the listing in use when the new
        one is taken (None when it is not, or when the old one was only the naming rule)."""
        current = self.listings.get(venue)
        fresh = await self._fetch(self.exchanges[venue])
        last_good = None
        if current is not None and current.source != "rule" and current.fetched_ms is not None:
            last_good = CachedListing(
                version=FORMAT_VERSION, venue=venue, fetched_ms=current.fetched_ms,
                instruments=current.instruments,
            )  # fmt: skip
        chosen = choose_listing(last_good, fresh)
        if fresh is None or chosen is not fresh:
            self._implausible(venue, fresh)
            self.tried_ms[venue] = self.clock()
            return None
        self.tried_ms.pop(venue, None)
        self._save(fresh)
        self._use(VenueListing(venue, fresh.instruments, "venue", fresh.fetched_ms))
        return (
            None if last_good is None else diff_listings(last_good.instruments, fresh.instruments)
        )

    def next_refresh_ms(self, venue: str, refresh_s: float) -> int:
        """When `venue`'s listing is due again: `refresh_s` after the venue served it (at once
        for a naming-rule listing), never within a minute of a failed or refused fetch."""
        refresh_ms = int(refresh_s * 1000)
        item = self.listings.get(venue)
        fetched = None if item is None else item.fetched_ms
        due = self.clock() if fetched is None else fetched + refresh_ms
        tried = self.tried_ms.get(venue)
        if tried is not None:
            due = max(due, tried + min(RETRY_AFTER_MS, refresh_ms))
        return due

    # ------------------------------------------------------------------ helpers
    async def _fetch(self, exchange: Exchange, attempts: int = 4) -> CachedListing | None:
        if self.client is None or exchange.listing_request(None) is None:
            return None
        try:
            parsed = await fetch_listing(self.client, exchange, attempts)
        except (TransientError, BadMessage) as exc:
            endpoint, cause = failure_fields(exc)
            metrics.LISTING_FAILURES.labels(exchange.name, "fetch_failed").inc()
            logger.warning(
                "listing.fetch_failed",
                extra={"exchange": exchange.name, "endpoint": endpoint, "cause": cause},
            )
            return None
        if parsed.skipped:
            logger.info("listing.rows_skipped", extra={"exchange": exchange.name,
                                                       "skipped": parsed.skipped})  # fmt: skip
        fetched = self.clock()
        return CachedListing(
            version=FORMAT_VERSION, venue=exchange.name, fetched_ms=fetched,
            instruments=tuple(parsed.instruments),
        )  # fmt: skip

    def _implausible(self, venue: str, fresh: CachedListing | None) -> None:
        if fresh is None:
            return  # already counted as fetch_failed
        metrics.LISTING_FAILURES.labels(venue, "implausible").inc()
        kept = self.listings.get(venue)
        logger.warning(
            "listing.implausible",
            extra={"exchange": venue, "instruments": len(fresh.instruments),
                   "kept": 0 if kept is None else len(kept.instruments)},
        )  # fmt: skip

    def _use(self, item: VenueListing) -> None:
        self.listings[item.venue] = item
        metrics.LISTING_INSTRUMENTS.labels(item.venue).set(len(item.instruments))
        logger.info(
            "listing.loaded",
            extra={"exchange": item.venue, "source": item.source,
                   "instruments": len(item.instruments), "fetched_ms": item.fetched_ms},
        )  # fmt: skip

    def _path(self, venue: str) -> Path | None:
        return None if self.cache_dir is None else listing_path(self.cache_dir, venue)

    def _read_cache(self, venue: str) -> CachedListing | None:
        path = self._path(venue)
        if path is None:
            return None
        try:
            return read_listing(path)
        except (ListingCacheError, OSError) as exc:
            metrics.LISTING_FAILURES.labels(venue, "bad_cache").inc()
            logger.warning("listing.bad_cache", extra={"exchange": venue, "error": str(exc)})
            return None

    def _save(self, listing: CachedListing) -> None:
        path = self._path(listing.venue)
        if path is None:
            return
        try:
            save_listing(path, listing.venue, listing.instruments, listing.fetched_ms)
        except OSError as exc:  # a full or read-only disk must not stop the collector
            logger.warning("listing.save_failed", extra={"exchange": listing.venue,
                                                         "error": str(exc)})  # fmt: skip
