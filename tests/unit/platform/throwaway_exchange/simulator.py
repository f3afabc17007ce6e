"""The throw-away venue's simulator dialect: `/throwaway/feed` (WebSocket trade frames for the
subscribed symbols) and `/throwaway/candles` (REST 1m klines from the synthetic market)."""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from microservices.exchange_simulator.bars import MINUTE_MS
from microservices.exchange_simulator.market import Event, Trade
from microservices.exchange_simulator.runtime import ctx_of
from microservices.exchange_simulator.session import WsSession
from microservices.exchange_simulator.venues.base import (
    Dialect,
    Rendered,
    RestSpec,
    WsOptions,
    json_response,
    parse_json,
    serve_ws,
)
from microservices.exchange_simulator.venues.spec import SimulatorDialect, SimVenue


def _venue_symbol(symbol: str) -> str:
    return f"{symbol[:-4]}_USDT"


class ThrowawayDialect(Dialect):
    url_venue = "throwaway"
    market_venue = "throwaway"

    def render(self, events: list[Event], wanted: set[str]) -> Rendered:
        out: Rendered = []
        for ev in events:
            key = f"trade:{_venue_symbol(ev.symbol)}"
            if type(ev) is Trade and key in wanted:
                out.append((key, self._trade(ev)))
        return out

    @staticmethod
    def _trade(ev: Trade) -> dict[str, Any]:
        return {"type": "trade", "symbol": _venue_symbol(ev.symbol), "price": ev.price,
                "size": ev.qty, "buy": ev.taker_buy, "id": ev.trade_id, "ts": ev.ts_ms}  # fmt: skip

    def key_symbol(self, key: str) -> str | None:
        base, _, quote = key.partition(":")[2].partition("_")
        symbol = f"{base}{quote}"
        return symbol if symbol in self.market.instruments else None

    def on_message(self, session: WsSession, text: str) -> None:
        msg = parse_json(text)
        if isinstance(msg, dict) and msg.get("op") == "subscribe":
            keys = [f"trade:{name}" for name in msg.get("symbols") or []]
            session.send_control({"type": "subscribed", "symbols": msg.get("symbols")})
            session.subscribe(keys)

    def replay_key(self, obj: Any) -> str | None:
        is_trade = isinstance(obj, dict) and obj.get("type") == "trade"
        return f"trade:{obj['symbol']}" if is_trade else None

    def is_control(self, obj: Any) -> bool:
        return isinstance(obj, dict) and obj.get("type") == "subscribed"


async def feed(request: web.Request) -> web.WebSocketResponse:
    ctx = ctx_of(request)
    return await serve_ws(request, ctx, ctx.hub.dialects["throwaway"], "", WsOptions())


async def candles(request: web.Request) -> web.Response:
    market = ctx_of(request).market
    name = request.query.get("symbol", "")
    symbol = name.replace("_", "")
    if symbol not in market.instruments:
        return json_response({"error": f"unknown symbol {name}"}, status=400)
    bars = market.klines("throwaway", symbol, MINUTE_MS, None, None, 5)
    return json_response([[b.open_ms, b.open, b.high, b.low, b.close, b.volume] for b in bars])


def routes() -> list[web.RouteDef]:
    return [web.get("/throwaway/feed", feed), web.get("/throwaway/candles", candles)]


REST_SPEC: Final = RestSpec(
    weight=lambda path, query: 1,
    limited=lambda verdict: json_response({"error": "rate limited"}, status=429),
    server_error=lambda: json_response({"error": "unavailable"}, status=503),
)
SIMULATOR: Final = SimulatorDialect(
    venues=(SimVenue("throwaway", (ThrowawayDialect,), routes, REST_SPEC),),
    capture_venue=lambda host, path: "throwaway" if "throwaway" in host + path else None,
)
