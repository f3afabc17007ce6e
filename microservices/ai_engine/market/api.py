"""The market routes (issue 15): `GET /api/v1/market/{symbol}` (StandardizedMarketData with
the venue fallback), `/api/v1/best-price/{symbol}` (venues ranked by price or by execution
cost), `/api/v1/arbitrage` (current cross-venue opportunities with their persistence),
`/api/v1/listings` (new listings and delistings) and `/api/v1/query` (questions in words).

A symbol is a followed one (`BTCUSDT`) or an asset naming it (`BTC`, `MATIC` -> `POLUSDT`);
anything else is 404 with the followed list. Redis errors are 503.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Path, Query
from pydantic import BaseModel, Field

from microservices.ai_engine.market.arbitrage import Opportunity
from microservices.ai_engine.market.assets import resolve_symbol
from microservices.ai_engine.market.best_price import RankBy, RankedVenue
from microservices.ai_engine.market.service import MarketService
from microservices.ai_engine.market.view import MarketData
from microservices.ai_engine.orderbook_api import MAX_NOTIONAL_USD
from microservices.common.orderbook.cost import TradeSide
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS

SymbolPath = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_/-]{2,30}$", description="e.g. BTCUSDT, ETH, MATIC")
]


class BestPriceResponse(BaseModel):
    symbol: str
    side: TradeSide
    ranked_by: RankBy = Field(description="price: top quotes; cost: a walk of `notional`")
    notional_usd: float | None
    venues: list[RankedVenue] = Field(description="best first")
    excluded: dict[str, str] = Field(description="venue -> why it is not ranked")


class ArbitrageResponse(BaseModel):
    min_profit_bps: float
    opportunities: list[Opportunity] = Field(description="most profitable first")


async def redis_call(awaitable: Any) -> Any:
    """`awaitable` within 10 s; a Redis outage as HTTP 503."""
    try:
        return await asyncio.wait_for(awaitable, timeout=10)
    except TRANSIENT_REDIS_ERRORS as exc:
        raise HTTPException(503, f"Redis unavailable: {type(exc).__name__}") from exc


async def followed_symbol(service: MarketService, name: str) -> tuple[str, dict[str, Any]]:
    """(the followed symbol `name` names, its venues' instruments); 404 otherwise."""
    followed = await redis_call(service.followed())
    symbol = resolve_symbol(name, followed)
    if symbol is None:
        raise HTTPException(
            404, f"unknown symbol {name!r}; followed symbols: {', '.join(sorted(followed))}"
        )
    return symbol, followed[symbol]


def add_market_routes(app: FastAPI, service: MarketService) -> None:
    """/market, /best-price and /arbitrage; listings and questions are in their modules."""

    @app.get("/api/v1/market/{symbol}", summary="StandardizedMarketData, venue fallback")
    async def market(symbol: SymbolPath) -> MarketData:
        canonical, venues = await followed_symbol(service, symbol)
        answer = await redis_call(service.market(canonical, venues))
        if answer is None:
            raise HTTPException(404, f"no venue has answered for {canonical} yet")
        return answer  # type: ignore[no-any-return]

    @app.get("/api/v1/best-price/{symbol}", summary="Venues ranked for a buy or a sell")
    async def best_price(
        symbol: SymbolPath,
        side: Annotated[TradeSide, Query(description="buy ranks asks, sell bids")] = "buy",
        notional: Annotated[
            float | None,
            Query(gt=0, le=MAX_NOTIONAL_USD, description="USD: rank by execution cost"),
        ] = None,
    ) -> BestPriceResponse:
        canonical, _ = await followed_symbol(service, symbol)
        if notional is None:
            ranked, excluded = await redis_call(service.by_price(canonical, side))
        else:
            ranked, excluded = await redis_call(service.by_cost(canonical, side, notional))
        return BestPriceResponse(
            symbol=canonical, side=side, ranked_by="price" if notional is None else "cost",
            notional_usd=notional, venues=ranked, excluded=excluded,
        )  # fmt: skip

    @app.get("/api/v1/arbitrage", summary="Cross-venue opportunities and their persistence")
    async def arbitrage(
        min_profit_bps: Annotated[
            float, Query(ge=0, le=10_000, description="profit above this, bps, before fees")
        ] = 0.0,
    ) -> ArbitrageResponse:
        found = await redis_call(service.arbitrage(min_profit_bps))
        return ArbitrageResponse(min_profit_bps=min_profit_bps, opportunities=found)
