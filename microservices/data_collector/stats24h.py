"""24 h statistics of every listed instrument, from each venue's all-tickers endpoint.

Every MARKET_STATS_REFRESH_S the collector asks each collected venue for its 24 h tickers
(`tickers_24h_request`, the one `top:N` uses) and writes the hash
`collector_key(prefix, "stats24h")`: field `<venue>:<venue_symbol>`, value JSON (see
`stat_row`), with a TTL of three periods so that a stopped collector's numbers expire. A venue
without the endpoint gets its listed instruments with null statistics (screens still see what
it lists); one whose request fails keeps its previous fields until they expire.
The engine's market routes (`ai_engine/market/`) read it. `stats_fields` is pure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import orjson
import redis.asyncio as aredis

from microservices.common.catalog import Catalog
from microservices.common.clock import now_ms
from microservices.common.errors import BadMessage, TransientError
from microservices.common.instruments import Instrument
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS
from microservices.common.usd_prices import volumes_in_usd
from microservices.data_collector.exchanges.base import Exchange
from microservices.data_collector.exchanges.venue_symbols import Volume24h
from microservices.data_collector.rest_client import RestClient

logger = logging.getLogger(__name__)

TTL_PERIODS: Final = 3  # the hash expires after this many refresh periods without a write


def stat_field(venue: str, venue_symbol: str) -> str:
    """The hash field of one instrument's statistics."""
    return f"{venue}:{venue_symbol}"


def stat_row(
    inst: Instrument, row: Volume24h, follow_key: str, volume_usd: float | None, ts_ms: int
) -> dict[str, Any]:
    """The JSON value of one field: the instrument's names, last price (quote units), 24 h
    volume in base units (quote volume / last price x price multiplier), in quote units and in
    USD (null without a USD price of the quote), 24 h price change in percent (null where the
    venue does not give it) and when the collector fetched it (`ts_ms`)."""
    volume = None
    if row.quote_volume is not None and row.last:
        volume = row.quote_volume / row.last * inst.price_multiplier
    return {
        "venue": inst.venue, "venue_symbol": inst.venue_symbol, "symbol": inst.symbol,
        "group": follow_key, "base": inst.base, "quote": inst.quote, "market": inst.market,
        "last": row.last, "volume_24h": volume, "quote_volume_24h": row.quote_volume,
        "volume_usd_24h": volume_usd, "price_change_24h": row.price_change_pct, "ts_ms": ts_ms,
    }  # fmt: skip


def stats_fields(
    venue: str, rows: Iterable[Volume24h], catalog: Catalog, ts_ms: int
) -> dict[str, bytes]:
    """The hash fields of one venue's tickers: rows of instruments the catalog lists as trading
    (others are left out), USD volumes through the rows' own USD-class prices."""
    listed: list[tuple[Instrument, Volume24h]] = []
    for row in rows:
        inst = catalog.by_venue_symbol(venue, row.venue_symbol)
        if inst is not None and inst.status == "trading":
            listed.append((inst, row))
    usd = volumes_in_usd(((i, r.last, r.quote_volume) for i, r in listed), catalog.usd)
    return {
        stat_field(venue, inst.venue_symbol): orjson.dumps(
            stat_row(inst, row, catalog.follow_key(inst), volume_usd, ts_ms)
        )
        for (inst, row), (_, volume_usd) in zip(listed, usd, strict=True)
    }


def listing_fields(venue: str, catalog: Catalog, ts_ms: int) -> dict[str, bytes]:
    """The fields of a venue without a 24 h tickers endpoint: its trading instruments with
    null statistics, so that screens still know what it lists."""
    rows = [
        Volume24h(inst.venue_symbol, None, None)
        for inst in catalog.instruments(venue)
        if inst.status == "trading"
    ]
    return stats_fields(venue, rows, catalog, ts_ms)


class Stats24hPoller:
    """Polls the venues' 24 h tickers into the stats hash until stopped."""

    def __init__(
        self,
        exchanges: Mapping[str, Exchange],
        client: RestClient,
        redis: aredis.Redis,
        key: str,
        catalog: Callable[[], Catalog],
        refresh_s: float,
    ) -> None:
        self.exchanges, self.client, self.redis, self.key = exchanges, client, redis, key
        self.catalog, self.refresh_s = catalog, refresh_s
        self.written = 0  # fields written so far

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for venue in self.exchanges:
                await self.refresh(venue)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.refresh_s)

    async def refresh(self, venue: str) -> int:
        """Fetch one venue's tickers and write its fields; the number written (0 on failure)."""
        exchange = self.exchanges[venue]
        request = exchange.tickers_24h_request()
        if request is None:
            fields = listing_fields(venue, self.catalog(), now_ms())
        else:
            try:
                payload = await self.client.get_json(exchange, request, attempts=2)
            except (TransientError, BadMessage) as exc:
                logger.warning("stats24h.failed", extra={"exchange": venue, "error": str(exc)})
                return 0
            rows = exchange.parse_tickers_24h(payload)
            fields = stats_fields(venue, rows, self.catalog(), now_ms())
        if not fields:
            return 0
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.hset(self.key, mapping=fields)  # type: ignore[arg-type]
            pipe.expire(self.key, int(self.refresh_s * TTL_PERIODS) + 1)
            await pipe.execute()
        except TRANSIENT_REDIS_ERRORS:
            return 0  # the producer logs Redis outages; the next period writes again
        self.written += len(fields)
        return len(fields)
