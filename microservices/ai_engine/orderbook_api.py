"""`GET /api/v1/orderbook/{symbol}` (one venue's book), `/consolidated` (the merged USD
ladder) and `/cost` (execution cost per venue and across venues, issue 13).

Each request reads the collector's full-book hash (`collector_key(prefix, "books")`, field
`<venue>:<symbol>`, see `book_schema`) with ONE HMGET of the fields of the venues in
VENUES. A book counts while fresh: received within AGGREGATOR_STALE_AFTER_S, the rule the
aggregator applies to tickers and books. The math is `common.orderbook`'s (consolidate,
cost). Prices are converted to USD with the USD price of each venue's quote that the
aggregator running in this process keeps (`UsdRates.usd_price`: a stablecoin at its own
published USD price, BTC through BTCUSDT); an engine started without the aggregator
(`engine --no-aggregator`) counts USD-class quotes at par (1.0) and leaves other quotes out
(`usd_rates: "par"` in the answer). Venues left out are named in `excluded` with the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

import redis.asyncio as aredis
from fastapi import FastAPI, HTTPException, Path, Query
from pydantic import BaseModel, Field

from microservices.ai_engine.aggregation.usd_rates import UsdRates
from microservices.common.book_schema import MAX_LEVELS, BookTop, decode_full_book
from microservices.common.book_schema import full_book_field as book_field
from microservices.common.clock import iso_utc, now_ms
from microservices.common.errors import SchemaError
from microservices.common.orderbook.book import Level, OrderBook
from microservices.common.orderbook.consolidated import ConsolidatedLevel, consolidate
from microservices.common.orderbook.cost import (
    ExecutionCost,
    TradeSide,
    consolidated_cost,
    cost_by_venue,
)
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS
from microservices.common.settings import Settings
from microservices.common.streams import collector_key

MAX_NOTIONAL_USD: Final = 1e9  # larger requests are refused (422): no book is that deep
SymbolPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{2,30}$", description="e.g. BTCUSDT")]
Depth = Annotated[int, Query(ge=0, le=MAX_LEVELS, description="levels per side; 0 = all")]
RatesSource = Literal["aggregator", "par"]


class BookResponse(BaseModel):
    """One venue's full book of a followed symbol, as the collector last stored it."""

    symbol: str = Field(description="the followed symbol, e.g. BTCUSDT")
    venue: str
    venue_symbol: str = Field(description="as the venue spells it, e.g. BTC-USD")
    quote: str = Field(description="prices are in this quote (not converted to USD)")
    timestamp: str = Field(description="ISO venue time of the last applied update")
    age_s: float = Field(description="seconds since the collector received that update")
    sequence: int | None = Field(description="the venue's update id; null where it has none")
    bid_levels: int = Field(description="levels the book holds per side (all of them)")
    ask_levels: int
    bids: list[Level] = Field(description="[price, size] best first, `depth` of them")
    asks: list[Level]


class VenueSource(BaseModel):
    """A venue's book as it entered a consolidated answer."""

    quote: str
    usd_rate: float = Field(description="USD per unit of the quote, applied to its prices")
    age_s: float


class ConsolidatedResponse(BaseModel):
    symbol: str
    usd_rates: RatesSource = Field(description="aggregator: live USD prices; par: 1.0")
    venues: dict[str, VenueSource]
    excluded: dict[str, str] = Field(description="venue -> stale | invalid | unpriced")
    mid: float | None = Field(description="NBBO mid in USD")
    crossed: bool = Field(description="best bid of a venue >= best ask of another")
    bids: list[ConsolidatedLevel] = Field(description="USD price, base size, venue; best first")
    asks: list[ConsolidatedLevel]


class CostResponse(BaseModel):
    symbol: str
    side: TradeSide
    notional_usd: float
    usd_rates: RatesSource
    venues: dict[str, VenueSource]
    excluded: dict[str, str]
    per_venue: dict[str, ExecutionCost] = Field(
        description="the order filled on one venue alone; cost_bps against that venue's mid"
    )
    consolidated: ExecutionCost = Field(
        description="the order walked over the merged ladder (best USD price first), with the "
        "split per venue; cost_bps against the NBBO mid. cost_bps is the price cost alone "
        "(> 0: worse than mid); fee_bps / fee_usd are the TAKER_FEES_BPS apart from it; "
        "remainder: the USD the books could not fill"
    )


@dataclass(frozen=True, slots=True)
class FreshBooks:
    """The fresh, priced books of one symbol and what was left out."""

    tops: dict[str, BookTop]
    rates: dict[str, float]
    excluded: dict[str, str]
    now: int

    def books(self) -> dict[str, OrderBook]:
        out = {}
        for venue, top in self.tops.items():
            out[venue] = book = OrderBook()
            book.load(top.bids, top.asks)
        return out

    def sources(self) -> dict[str, VenueSource]:
        return {
            venue: VenueSource(quote=top.quote, usd_rate=self.rates[venue],
                               age_s=_age_s(top, self.now))
            for venue, top in self.tops.items()
        }  # fmt: skip


def _age_s(top: BookTop, now: int) -> float:
    return max(now - top.recv_ms, 0) / 1000.0


class BookReader:
    """Reads the full-book hash for the routes (one HMGET per request)."""

    def __init__(self, redis: aredis.Redis, settings: Settings, rates: UsdRates | None) -> None:
        self.redis = redis
        self.key = collector_key(settings.stream_prefix, "books")
        self.venues = list(settings.venues)
        self.stale_after_ms = int(settings.aggregator_stale_after_s * 1000)
        self.source: RatesSource = "par" if rates is None else "aggregator"
        self.rates = UsdRates(settings.usd_equivalents) if rates is None else rates

    async def read(self, symbol: str, venues: list[str]) -> dict[str, BookTop | str]:
        """venue -> its book, or why there is none ("absent", "invalid", "stale")."""
        try:
            raw: Any = await asyncio.wait_for(
                self.redis.hmget(self.key, [book_field(v, symbol) for v in venues]), timeout=10
            )
        except TRANSIENT_REDIS_ERRORS as exc:
            raise HTTPException(503, f"Redis unavailable: {type(exc).__name__}") from exc
        now = now_ms()
        out: dict[str, BookTop | str] = {}
        for venue, value in zip(venues, raw, strict=True):
            if value is None:
                out[venue] = "absent"
                continue
            try:
                top = decode_full_book(value)
            except SchemaError:
                out[venue] = "invalid"
                continue
            out[venue] = top if now - top.recv_ms <= self.stale_after_ms else "stale"
        return out

    async def fresh(self, symbol: str) -> FreshBooks:
        """Every fresh book of `symbol` with a USD rate; 404 when there is none."""
        tops: dict[str, BookTop] = {}
        rates: dict[str, float] = {}
        excluded: dict[str, str] = {}
        for venue, found in (await self.read(symbol, self.venues)).items():
            if isinstance(found, str):
                if found != "absent":
                    excluded[venue] = found
                continue
            rate = self.rates.usd_price(found.quote or "USD")
            if rate is None:
                excluded[venue] = "unpriced"
                continue
            tops[venue], rates[venue] = found, rate
        if not tops:
            raise HTTPException(404, _no_book(symbol, excluded))
        return FreshBooks(tops, rates, excluded, now_ms())


def _no_book(symbol: str, excluded: Mapping[str, str]) -> str:
    why = ", ".join(f"{venue}: {reason}" for venue, reason in sorted(excluded.items()))
    return f"no fresh order book of {symbol}" + (f" ({why})" if why else " on any venue")


def add_orderbook_routes(app: FastAPI, reader: BookReader, fees_bps: Mapping[str, float]) -> None:
    """The three order-book routes; `fees_bps` is TAKER_FEES_BPS (venue -> bps, others 0)."""
    _add_book_routes(app, reader)
    _add_cost_route(app, reader, fees_bps)


def _add_book_routes(app: FastAPI, reader: BookReader) -> None:
    @app.get("/api/v1/orderbook/{symbol}", summary="One venue's L2 book (depth=0: all levels)")
    async def venue_book(
        symbol: SymbolPath,
        venue: Annotated[str, Query(pattern=r"^[a-z0-9_]{2,30}$", examples=["binance"])],
        depth: Depth = 20,
    ) -> BookResponse:
        upper = symbol.upper()
        if venue not in reader.venues:
            raise HTTPException(404, f"unknown venue {venue!r}; venues: {', '.join(reader.venues)}")
        found = (await reader.read(upper, [venue]))[venue]
        if isinstance(found, str):
            raise HTTPException(404, f"no fresh order book of {upper} on {venue} ({found})")
        cut = None if depth == 0 else depth
        return BookResponse(
            symbol=upper, venue=venue, venue_symbol=found.venue_symbol, quote=found.quote,
            timestamp=iso_utc(found.ts_ms), age_s=_age_s(found, now_ms()),
            sequence=found.sequence, bid_levels=found.bid_levels, ask_levels=found.ask_levels,
            bids=found.bids[:cut], asks=found.asks[:cut],
        )  # fmt: skip

    @app.get("/api/v1/orderbook/{symbol}/consolidated", summary="All venues' books merged, USD")
    async def consolidated(symbol: SymbolPath, depth: Depth = 20) -> ConsolidatedResponse:
        fresh = await reader.fresh(symbol.upper())
        merged = consolidate(fresh.books(), fresh.rates, depth)
        return ConsolidatedResponse(
            symbol=symbol.upper(), usd_rates=reader.source, venues=fresh.sources(),
            excluded=fresh.excluded, mid=merged.mid(), crossed=merged.crossed(),
            bids=merged.bids, asks=merged.asks,
        )  # fmt: skip


def _add_cost_route(app: FastAPI, reader: BookReader, fees_bps: Mapping[str, float]) -> None:
    @app.get("/api/v1/orderbook/{symbol}/cost", summary="Cost of a market order now, in bps")
    async def cost(
        symbol: SymbolPath,
        side: Annotated[TradeSide, Query(description="buy walks the asks, sell the bids")] = "buy",
        notional: Annotated[
            float, Query(gt=0, le=MAX_NOTIONAL_USD, description="USD to buy or sell")
        ] = 100_000.0,
    ) -> CostResponse:
        fresh = await reader.fresh(symbol.upper())
        books = fresh.books()
        fees = {venue: fees_bps.get(venue, 0.0) for venue in books}
        return CostResponse(
            symbol=symbol.upper(), side=side, notional_usd=notional, usd_rates=reader.source,
            venues=fresh.sources(), excluded=fresh.excluded,
            per_venue=cost_by_venue(books, side, notional, fee_bps=fees, usd_rate=fresh.rates),
            consolidated=consolidated_cost(
                books, side, notional, fee_bps=fees, usd_rate=fresh.rates
            ),
        )  # fmt: skip
