"""The market layer's reads: the newest normalized entries, the stats24h hash, the full
books (through the order-book API's `BookReader`) and the listings on the `alerts` stream;
and the engine-process state `/market` needs (the last good answer per symbol). The routes
(`api`) and the questions in words (`answers`) both call these methods, so they never
disagree. Redis errors propagate (the routes turn them into 503).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson
import redis.asyncio as aredis

from microservices.ai_engine.health import venue_states
from microservices.ai_engine.market.arbitrage import Opportunity, RunScanner
from microservices.ai_engine.market.best_price import RankedVenue, rank_costs, rank_quotes
from microservices.ai_engine.market.view import (
    DOWN_STATES,
    MarketData,
    VenueMarket,
    build_market,
    stale_copy,
)
from microservices.ai_engine.orderbook_api import BookReader
from microservices.ai_engine.symbols_api import read_followed
from microservices.common import shard_read
from microservices.common.clock import now_ms
from microservices.common.errors import SchemaError
from microservices.common.followed import UPDATED_FIELD
from microservices.common.orderbook.cost import TradeSide, cost_by_venue
from microservices.common.records import NormalizedSnapshot
from microservices.common.settings import Settings
from microservices.common.streams import Stream, collector_key

PAGE: Final = 500  # entries per XREVRANGE
MAX_PAGES: Final = 20  # at most this many pages per scan (MAXLEN_NORMALIZED 10 000)


class MarketService:
    """Reads for the market routes; keeps the last good /market answer of each symbol."""

    def __init__(
        self,
        redis: aredis.Redis,
        settings: Settings,
        books: BookReader,
        fees_bps: Mapping[str, float],
    ) -> None:
        self.redis, self.settings, self.books, self.fees = redis, settings, books, fees_bps
        self.streams = settings.streams()
        self.stats_key = collector_key(settings.stream_prefix, "stats24h")
        self.stale_after_ms = int(settings.aggregator_stale_after_s * 1000)
        self.order = settings.market_order(list(settings.venues))
        self.last_good: dict[str, MarketData] = {}

    # ------------------------------------------------------------------ raw reads
    async def followed(self) -> dict[str, dict[str, Any]]:
        """Followed symbol -> {venue: its instrument JSON}; {} before the collector
        published, then the explicit SYMBOLS without venues."""
        fields = await read_followed(self.redis, self.settings)
        out = {k: orjson.loads(v) for k, v in fields.items() if k != UPDATED_FIELD}
        return out or {s: {} for s in self.settings.explicit_symbols()}

    async def scan_entries(self, scanner: RunScanner) -> None:
        """Feed `scanner` the normalized entries newest first (merged over the shards), page
        by page, until it has settled or MAX_PAGES x PAGE are read; undecodable entries are
        skipped."""
        stream = self.streams.normalized
        read = 0
        async for batch in shard_read.walk_newest(self.redis, stream, PAGE):
            read += len(batch)
            oldest = None  # ts_ms of the batch's last decodable entry
            for _, _, fields in batch:
                snap = _decoded(stream, fields)
                if snap is not None:
                    scanner.feed(snap)
                    oldest = snap.ts_ms
            if read >= PAGE * MAX_PAGES or (oldest is not None and scanner.settled(oldest)):
                return

    async def snapshot(self, symbol: str) -> NormalizedSnapshot | None:
        """The newest normalized entry of `symbol` (in its shard), or None within the pages
        read."""
        name = self.streams.normalized.shard_for(symbol).name
        upper = "+"
        for _ in range(MAX_PAGES):
            rows: Any = await self.redis.xrevrange(name, upper, "-", count=PAGE)
            for _, fields in rows:
                if fields.get(b"symbol", b"").decode() == symbol:
                    try:
                        snap: NormalizedSnapshot = self.streams.normalized.schema.decode(fields)
                    except SchemaError:
                        return None
                    return snap
            if len(rows) < PAGE:
                return None
            upper = "(" + rows[-1][0].decode()
        return None

    async def stats(self, venues: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """venue -> the stats24h JSON of its instrument (`venues`: venue -> instrument JSON
        with `venue_symbol`); venues without stats are left out."""
        names = [v for v in venues if isinstance(venues[v], dict)]
        if not names:
            return {}
        fields = [f"{v}:{venues[v]['venue_symbol']}" for v in names]
        raw: Any = await self.redis.hmget(self.stats_key, fields)
        return {v: orjson.loads(value) for v, value in zip(names, raw, strict=True) if value}

    async def down_venues(self) -> tuple[set[str], set[str]]:
        """(venues whose collector health state is in DOWN_STATES, venues whose REST answers
        it reports refused: a Retry-After window or an open circuit); empty without the hash."""
        states = (await venue_states(self.redis, self.settings))["venues"]
        down = {v for v, item in states.items() if item.get("state") in DOWN_STATES}
        degraded = {v for v, item in states.items() if _refused(item.get("rest"))}
        return down, degraded

    async def all_stats(self) -> list[dict[str, Any]]:
        """Every row of the stats24h hash (every listed instrument of every venue)."""
        raw: Any = await self.redis.hgetall(self.stats_key)
        return [orjson.loads(value) for value in raw.values()]

    # ------------------------------------------------------------------ answers
    async def market(self, symbol: str, venues: Mapping[str, Any]) -> MarketData | None:
        """StandardizedMarketData of `symbol` (the fallback order, then the last good value
        marked stale); None when no venue ever answered in this process."""
        snap, stats = await self.snapshot(symbol), await self.stats(venues)
        down, degraded = await self.down_venues()
        now = now_ms()
        answer, rows = build_market(symbol, snap, stats, self.order, now, self.stale_after_ms,
                                    down, degraded)  # fmt: skip
        if answer is not None:
            self.last_good[symbol] = answer
            return answer
        last = self.last_good.get(symbol)
        return None if last is None else stale_copy(last, rows, now)

    async def venue_rows(self, symbol: str, venues: Mapping[str, Any]) -> list[VenueMarket]:
        """Every venue's row for `symbol` in the preferred order (compare across venues)."""
        snap, stats = await self.snapshot(symbol), await self.stats(venues)
        down, degraded = await self.down_venues()
        _, rows = build_market(symbol, snap, stats, self.order, now_ms(), self.stale_after_ms,
                               down, degraded)  # fmt: skip
        return rows

    async def by_price(
        self, symbol: str, side: TradeSide
    ) -> tuple[list[RankedVenue], dict[str, str]]:
        """The ok venues ranked by their top quote on `side` (USD), and the others with their
        status (stale, outlier, absent) or `no_quote`."""
        rows = await self.venue_rows(symbol, {})
        key = "ask" if side == "buy" else "bid"
        quotes: list[tuple[str, float, float | None]] = []
        excluded: dict[str, str] = {}
        for row in rows:
            price = getattr(row, key)
            if row.status != "ok":
                excluded[row.venue] = row.status
            elif price is None:
                excluded[row.venue] = "no_quote"
            else:
                quotes.append((row.venue, price, row.age_s))
        return rank_quotes(quotes, side), excluded

    async def by_cost(
        self, symbol: str, side: TradeSide, notional: float
    ) -> tuple[list[RankedVenue], dict[str, str]]:
        """The venues with a fresh book ranked by the cost of `notional` USD, and the venues
        left out with the reason (HTTPException 404 when no book is fresh)."""
        fresh = await self.books.fresh(symbol)
        books = fresh.books()
        fees = {venue: self.fees.get(venue, 0.0) for venue in books}
        walks = cost_by_venue(books, side, notional, fee_bps=fees, usd_rate=fresh.rates)
        return rank_costs(walks, side), fresh.excluded

    async def arbitrage(
        self, min_profit_bps: float, symbols: set[str] | None = None
    ) -> list[Opportunity]:
        """Current opportunities (of `symbols`, default all), with their persistence."""
        scanner = RunScanner(min_profit_bps, now_ms() - self.stale_after_ms)
        await self.scan_entries(scanner)
        return [o for o in scanner.opportunities() if symbols is None or o.symbol in symbols]


def _refused(rest: Any) -> bool:
    """A venue's `rest` health block says its REST answers are refused right now."""
    if not isinstance(rest, dict):
        return False
    return bool(rest.get("blocked_s", 0) or rest.get("open_circuits", 0))


def _decoded(stream: Stream[Any], fields: dict[bytes, bytes]) -> NormalizedSnapshot | None:
    try:
        snap: NormalizedSnapshot = stream.schema.decode(fields)
    except SchemaError:
        return None
    return snap
