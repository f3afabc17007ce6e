"""`GET /api/v1/query?q=...`: a question in words answered from the same reads as the market
routes (`MarketService`), so `cross-exchange ask` (which calls this route) and the endpoints
never disagree. Every intent is answered across all followed venues, in the preferred
order (MARKET_VENUE_ORDER); assets that are not followed and venue words that name no
collected venue are named in the answer, never raised. An unrecognised question gets the
supported forms. `format=text` answers in plain text, else JSON with a `text` field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from microservices.ai_engine.market import answer_text as fmt
from microservices.ai_engine.market.api import redis_call
from microservices.ai_engine.market.assets import resolve_symbol, resolve_venues
from microservices.ai_engine.market.discovery import (
    not_on,
    only_on,
    rank_depth,
    ranks_changes,
    trending,
)
from microservices.ai_engine.market.listings import read_listings
from microservices.ai_engine.market.query import HELP_TEXT, SUPPORTED, Intent, parse
from microservices.ai_engine.market.service import MarketService
from microservices.common.clock import iso_utc, now_ms

LISTINGS_WINDOW_MS = 7 * 86_400_000  # "new listings": the last 7 days


class QueryAnswer(BaseModel):
    question: str
    intent: str | None = Field(description="null: not understood (see `answer.supported`)")
    symbols: list[str] = Field(description="the followed symbols the assets named")
    unknown: list[str] = Field(description="words that name no followed symbol or venue")
    answer: dict[str, Any]
    text: str


@dataclass(slots=True)
class _Reply:
    """What one intent produced: JSON parts and text lines."""

    data: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


class Answerer:
    """Answers parsed questions with the market service's reads."""

    def __init__(self, service: MarketService) -> None:
        self.service = service
        self.settings = service.settings

    async def ask(self, question: str) -> QueryAnswer:
        intent = parse(question)
        if intent is None:
            text = f"I did not understand {question!r}.\n{HELP_TEXT}"
            return QueryAnswer(question=question, intent=None, symbols=[], unknown=[],
                               answer={"supported": list(SUPPORTED)}, text=text)  # fmt: skip
        followed = await self.service.followed()
        symbols, unknown = [], []
        for word in intent.assets:
            found = resolve_symbol(word, followed)
            if found is None:
                unknown.append(word)
            else:
                symbols.append(found)
        symbols = list(dict.fromkeys(symbols))
        reply = await self._dispatch(intent, symbols, followed, unknown)
        if unknown:
            reply.lines.append(f"not followed: {', '.join(unknown)} (followed: "
                               f"{', '.join(sorted(followed))})")  # fmt: skip
        return QueryAnswer(question=question, intent=intent.kind, symbols=symbols,
                           unknown=unknown, answer=reply.data,
                           text="\n".join(reply.lines))  # fmt: skip

    async def _dispatch(
        self, intent: Intent, symbols: list[str], followed: dict[str, Any], unknown: list[str]
    ) -> _Reply:
        if intent.kind in ("best_price", "compare", "liquidity") and not symbols:
            return _Reply({}, ["name a followed asset, e.g. 'best price for BTC'"])
        if intent.kind == "best_price":
            return await self._best_price(symbols, intent.notional)
        if intent.kind == "compare":
            return await self._compare(symbols, followed)
        if intent.kind == "liquidity":
            return await self._liquidity(symbols, intent.notional)
        if intent.kind == "arbitrage":
            return await self._arbitrage(symbols, bool(intent.assets))
        if intent.kind == "new_listings":
            return await self._listings(intent.venue, unknown)
        return await self._screen(intent, unknown)

    async def _best_price(self, symbols: list[str], notional: float | None) -> _Reply:
        reply = _Reply()
        for symbol in symbols:
            sides = {}
            for side in ("buy", "sell"):
                if notional is None:
                    ranked, excluded = await self.service.by_price(symbol, side)
                else:
                    ranked, excluded = await self.service.by_cost(symbol, side, notional)
                sides[side] = {"venues": [r.model_dump() for r in ranked], "excluded": excluded}
                reply.lines.append(fmt.ranking(symbol, side, ranked, excluded, notional))
            reply.data[symbol] = sides
        return reply

    async def _compare(self, symbols: list[str], followed: dict[str, Any]) -> _Reply:
        reply = _Reply()
        for symbol in symbols:
            rows = await self.service.venue_rows(symbol, followed.get(symbol, {}))
            reply.data[symbol] = [row.model_dump() for row in rows]
            reply.lines += fmt.compare(symbol, rows)
        return reply

    async def _liquidity(self, symbols: list[str], notional: float | None) -> _Reply:
        if notional is not None:
            return await self._best_price(symbols, notional)
        reply = _Reply()
        for symbol in symbols:
            rows = await self.service.venue_rows(symbol, {})
            ok = {row.venue for row in rows if row.status == "ok"}
            ranked = rank_depth(await self.service.snapshot(symbol), ok)
            reply.data[symbol] = [d.model_dump() for d in ranked]
            reply.lines.append(fmt.depth(symbol, ranked))
        return reply

    async def _arbitrage(self, symbols: list[str], named: bool) -> _Reply:
        found = await self.service.arbitrage(0.0, set(symbols) if named else None)
        return _Reply({"opportunities": [o.model_dump() for o in found]},
                      fmt.arbitrage(symbols, found))  # fmt: skip

    def _venues(self, word: str | None, unknown: list[str]) -> list[str]:
        venues = resolve_venues(word or "", list(self.settings.venues))
        if word and not venues:
            unknown.append(word)
        return venues

    async def _listings(self, word: str | None, unknown: list[str]) -> _Reply:
        since = now_ms() - LISTINGS_WINDOW_MS
        if word is not None and not self._venues(word, unknown):
            return _Reply({"listings": []}, [f"{word} is not a collected venue"])
        events = await read_listings(self.service.redis, self.settings, since, word)
        return _Reply({"listings": [e.model_dump() for e in events]},
                      fmt.listings(iso_utc(since), events))  # fmt: skip

    async def _screen(self, intent: Intent, unknown: list[str]) -> _Reply:
        venues = self._venues(intent.venue, unknown)
        others = self._venues(intent.other, unknown) if intent.other else []
        if not venues or (intent.other and not others):
            names = ", ".join(self.settings.venues)
            return _Reply({}, [f"name a collected venue ({names})"])
        rows = await self.service.all_stats()
        if intent.kind == "only_on":
            assets = only_on(rows, venues)
            return _Reply({"assets": assets}, [f"only on {intent.venue}: "
                                                f"{', '.join(assets) or 'none'}"])  # fmt: skip
        floor = self.settings.market_trending_min_volume_usd
        top_n = self.settings.market_trending_top_n
        found = trending(rows, venues, floor, top_n)
        title = f"trending on {intent.venue} (24 h change, volume > {fmt.usd(floor)})"
        if others:
            found = not_on(found, rows, others, floor, top_n)
            title += f" but not on {intent.other}"
            if not ranks_changes(rows, others):
                title += f" ({intent.other} gives no 24 h change: listing only)"
        return _Reply({"trending": [t.model_dump() for t in found]}, fmt.trends(title, found))


def add_query_route(app: FastAPI, service: MarketService) -> None:
    answerer = Answerer(service)

    @app.get("/api/v1/query", summary="A market question in words (see the README)",
             response_model=QueryAnswer)  # fmt: skip
    async def query(
        q: Annotated[str, Query(min_length=1, max_length=300, description="the question")],
        format: Annotated[Literal["json", "text"], Query()] = "json",
    ) -> Any:
        answer: QueryAnswer = await redis_call(answerer.ask(q))
        if format == "text":
            return PlainTextResponse(answer.text + "\n")
        return answer
