"""The CME poller's I/O shell: settings -> source, rules, reference, Redis publisher; the poll
loop (`run`) and the file import (`import_file`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import aiohttp
import redis.asyncio as aredis

from microservices.common.clock import now_ms
from microservices.common.errors import FatalError
from microservices.common.market_alerts import MarketAlert
from microservices.common.records import Settlement
from microservices.common.redis_io import create_redis, xadd_record
from microservices.common.settings import Settings
from microservices.data_collector.exchanges.cme.reference import (
    FirstReference,
    ReferencePrices,
    RestKlineReference,
    StoredNormalizedReference,
)
from microservices.data_collector.exchanges.cme.service import (
    DayOutcome,
    Publish,
    SettlementFeed,
    poll_dates,
)
from microservices.data_collector.exchanges.cme.settlements import CmeRules
from microservices.data_collector.exchanges.cme.source import (
    FileSource,
    SettlementSource,
    WebSource,
)
from microservices.data_collector.polled import write_polled_health
from microservices.data_collector.registry import build_exchange
from microservices.data_collector.rest_client import RestClient, rest_timeout

logger = logging.getLogger(__name__)


def rules_of(settings: Settings) -> CmeRules:
    return CmeRules(
        groups=dict(settings.cme_groups),
        holidays=frozenset(settings.cme_holidays),
        roll_days=settings.cme_roll_days,
    )


def reference_of(settings: Settings, session: aiohttp.ClientSession) -> ReferencePrices | None:
    """Stored normalized history when DATABASE_URL is set, then the REST 1m klines of
    CME_REFERENCE_VENUES (following the CME groups); None with neither."""
    references: list[ReferencePrices] = []
    if settings.database_url:
        references.append(StoredNormalizedReference(settings.database_url))
    if settings.cme_reference_venues:
        groups = sorted(set(settings.cme_groups.values()))
        scoped = settings.model_copy(update={"symbols": groups})
        venues = [build_exchange(venue, scoped) for venue in settings.cme_reference_venues]
        client = RestClient(session, timeout_s=settings.rest_timeout_s)
        references.append(RestKlineReference(venues, client, now_ms))
    return FirstReference(*references) if references else None


def redis_publisher(redis: aredis.Redis, settings: Settings) -> Publish:
    streams = settings.streams()

    async def publish(records: list[Settlement], alerts: list[MarketAlert]) -> None:
        for record in records:
            await xadd_record(redis, streams.raw, record)
        for alert in alerts:
            await xadd_record(redis, streams.market_alerts, alert)

    return publish


def _redis(settings: Settings) -> aredis.Redis:
    if settings.redis_url is None:
        raise FatalError("REDIS_URL is not set: the CME poller writes to Redis")
    return create_redis(settings.redis_url, cluster=settings.redis_cluster)


async def import_file(
    settings: Settings, path: Path, with_reference: bool, report: Callable[[str], None]
) -> list[DayOutcome]:
    """Every trade date of the file, oldest first, onto exchange.raw (and rolls onto alerts)."""
    redis = _redis(settings)
    try:
        async with aiohttp.ClientSession(timeout=rest_timeout(settings)) as session:
            reference = reference_of(settings, session) if with_reference else None
            source = FileSource(path)
            feed = SettlementFeed(source, rules_of(settings), reference,
                                  redis_publisher(redis, settings))  # fmt: skip
            outcomes = [await feed.read_day(day, now_ms()) for day in source.dates(feed.checker)]
    finally:
        await redis.aclose()
    rejected = ", ".join(f"{k} {v}" for k, v in sorted(feed.stats.rejected.items())) or "none"
    records = sum(o.records for o in outcomes)
    rolls = sum(o.rolls for o in outcomes)
    report(f"{len(outcomes)} trade dates, {records} records, {rolls} rolls; rejected: {rejected}")
    return outcomes


def source_of(settings: Settings, session: aiohttp.ClientSession) -> SettlementSource:
    if settings.cme_source == "file":
        return FileSource(Path(settings.cme_file))
    return WebSource(session, settings.cme_web_url, settings.cme_product_ids,
                     settings.cme_products, settings.rest_timeout_s)  # fmt: skip


async def run(settings: Settings, once: bool = False) -> None:
    """Poll every CME_POLL_INTERVAL_S: the trade dates of the last CME_LOOKBACK_DAYS not read
    yet (a holiday is asked again until a later date has been read; a failed date stops the
    poll and is asked again first). Without DATABASE_URL and CME_REFERENCE_VENUES the records
    carry no reference price (no basis)."""
    redis = _redis(settings)
    try:
        async with aiohttp.ClientSession(timeout=rest_timeout(settings)) as session:
            feed = SettlementFeed(source_of(settings, session), rules_of(settings),
                                  reference_of(settings, session),
                                  redis_publisher(redis, settings))  # fmt: skip
            while True:
                today = datetime.now(UTC).date()
                await poll(feed, today, settings.cme_lookback_days)
                ttl_s = int(settings.cme_poll_interval_s * 3)
                await write_polled_health(redis, settings.stream_prefix, "cme",
                                          feed.health(now_ms()), ttl_s)  # fmt: skip
                if once:
                    return
                await asyncio.sleep(settings.cme_poll_interval_s)
    finally:
        await redis.aclose()


async def poll(feed: SettlementFeed, today: date, lookback_days: int) -> list[DayOutcome]:
    """The unread trade dates, oldest first; a failed one ends the poll, so it is asked again
    (before any later date) on the next."""
    outcomes = []
    for day in poll_dates(today, lookback_days, feed.book.last_date):
        outcomes.append(await feed.read_day(day, now_ms()))
        if outcomes[-1].outcome == "failed":
            break
    logger.info("cme.polled", extra={"days": len(outcomes),
                "records": sum(o.records for o in outcomes)})  # fmt: skip
    return outcomes
