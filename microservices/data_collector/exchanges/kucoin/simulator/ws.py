"""KuCoin WebSocket dialects: spot at `/kucoin/ws`, futures at `/kucoin_futures/ws`, the
endpoints the simulator's bullet-public hands out (with a token, required like KuCoin's).

A connection is greeted with `{"id": <connectId>, "type": "welcome"}`; `ping` gets `pong`;
`subscribe`/`unsubscribe` name a topic `<channel>:<sym>[,<sym>...]` and get an `ack` when
`response` is true, an `error` (code 404) for an unknown channel or symbol. Spot channels:
/market/ticker, /market/match, /market/candles (`<sym>_1min`), /market/snapshot and
/spotMarket/level2Depth50; futures: /contractMarket/tickerV2, /contractMarket/execution,
/contract/instrument and /contractMarket/level2Depth50. Depth pushes are whole 50-level
snapshots: the `depth_gap_every` fault loses one, which no client needs to notice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Final

from aiohttp import web

from microservices.data_collector.exchanges.kucoin.simulator.frames import KucoinFormat
from microservices.exchange_simulator.market import (
    BarUpdate,
    DepthDiff,
    Event,
    Mark,
    MarketModel,
    Quote,
    Trade,
)
from microservices.exchange_simulator.naming import by_venue_symbol
from microservices.exchange_simulator.runtime import ctx_of
from microservices.exchange_simulator.session import DATA, Item, WsSession
from microservices.exchange_simulator.stats import PONG_KEY
from microservices.exchange_simulator.venues.base import (
    Dialect,
    Rendered,
    WsOptions,
    parse_json,
    serve_ws,
)

SPOT_CHANNELS: Final = ("/market/ticker", "/market/match", "/market/candles",
                        "/market/snapshot", "/spotMarket/level2Depth50")  # fmt: skip
FUTURES_CHANNELS: Final = ("/contractMarket/tickerV2", "/contractMarket/execution",
                           "/contract/instrument", "/contractMarket/level2Depth50")  # fmt: skip
CANDLES: Final = "/market/candles"
IDLE_TIMEOUT_S: Final = 28.0  # pingInterval 18 s + pingTimeout 10 s


class KucoinDialect(Dialect):
    """KuCoin spot; the futures dialect changes the channels and the formats."""

    url_venue = "kucoin"
    market_venue = "kucoin"
    futures: ClassVar[bool] = False
    channels: ClassVar[tuple[str, ...]] = SPOT_CHANNELS

    def __init__(self, market: MarketModel) -> None:
        super().__init__(market)
        self.fmt = KucoinFormat(market, self.market_venue, self.futures)
        self.venue_syms = self.fmt.venue_syms
        self.by_venue_symbol = by_venue_symbol(self.venue_syms)

    # ---------------------------------------------------------------- messages
    def key_symbol(self, key: str) -> str | None:
        channel, _, vsym = key.partition(":")
        if channel == CANDLES:
            vsym = vsym.removesuffix("_1min")
        return self.by_venue_symbol.get(vsym.upper())

    def keys(self, topic: Any) -> list[str] | None:
        """The per-symbol keys of a topic, or None when its channel or a symbol is unknown."""
        if not isinstance(topic, str):
            return None
        channel, _, symbols = topic.partition(":")
        if channel not in self.channels or not symbols:
            return None
        keys = [f"{channel}:{s}" for s in symbols.split(",")]
        if channel == CANDLES and not all(k.endswith("_1min") for k in keys):
            return None
        return keys if all(self.key_symbol(k) is not None for k in keys) else None

    def on_message(self, session: WsSession, text: str) -> None:
        msg = parse_json(text)
        if not isinstance(msg, dict):
            session.send_control({"type": "error", "code": 400, "data": "malformed message"})
            return
        kind, request_id = msg.get("type"), str(msg.get("id", ""))
        if kind == "ping":
            session.send_control({"id": request_id, "type": "pong"}, PONG_KEY)
            return
        keys = self.keys(msg.get("topic")) if kind in ("subscribe", "unsubscribe") else None
        if keys is None:
            error = f"topic {msg.get('topic')} is not found" if kind else "type is required"
            session.send_control({"id": request_id, "type": "error", "code": 404, "data": error})
            return
        if msg.get("response") is True:
            session.send_control({"id": request_id, "type": "ack"})
        if kind == "subscribe":
            session.subscribe(keys)
        else:
            session.unsubscribe(keys)

    def replay_key(self, obj: Any) -> str | None:
        topic = obj.get("topic") if isinstance(obj, dict) else None
        return topic if isinstance(topic, str) else None

    def is_control(self, obj: Any) -> bool:
        return isinstance(obj, dict) and obj.get("type") in ("welcome", "ack", "pong", "error")

    # ---------------------------------------------------------------- frames
    def initial_frames(self, keys: Iterable[str]) -> list[Item]:
        items: list[Item] = []
        now = self.market.now_ms
        for key in keys:
            symbol = self.key_symbol(key)
            if symbol is None:
                continue
            channel = key.partition(":")[0]
            payload: dict[str, Any] | None = None
            if channel.endswith("level2Depth50"):
                payload = self.fmt.depth(key, symbol, now)
            elif channel in ("/market/ticker", "/contractMarket/tickerV2"):
                book = self.market.book(self.market_venue, symbol)
                quote = Quote(self.market_venue, symbol, now, book.update_id, book.bid,
                              book.bid_qty, book.ask, book.ask_qty)  # fmt: skip
                payload = self.fmt.ticker(key, symbol, quote)
            if payload is not None:
                items.append((DATA, key, self.encode(key, payload, "")))
        return items

    def render(self, events: list[Event], wanted: set[str]) -> Rendered:
        out: Rendered = []
        ticker, match = self.channels[0], self.channels[1]
        for ev in events:
            sym = self.venue_syms[ev.symbol]
            if type(ev) is Trade or type(ev) is Quote:
                if f"{ticker}:{sym}" in wanted:
                    out.append(
                        (f"{ticker}:{sym}", self.fmt.ticker(f"{ticker}:{sym}", ev.symbol, ev))
                    )
                if type(ev) is Trade and f"{match}:{sym}" in wanted:
                    out.append((f"{match}:{sym}", self.fmt.match(f"{match}:{sym}", ev)))
            elif type(ev) is BarUpdate:
                self._bar(ev, sym, wanted, out)
            elif type(ev) is Mark and f"/contract/instrument:{sym}" in wanted:
                key = f"/contract/instrument:{sym}"
                out.append((key, self.fmt.instrument(key, ev)))
            elif type(ev) is DepthDiff:
                key = f"{self.channels[-1]}:{sym}"
                if key in wanted:
                    self.market.depth(self.market_venue, ev.symbol)  # in use: keep it live
                    out.append((key, self.fmt.depth_after(key, ev)))
        return out

    def _bar(self, ev: BarUpdate, sym: str, wanted: set[str], out: Rendered) -> None:
        if self.futures:
            return
        key = f"{CANDLES}:{sym}_1min"
        if key in wanted:
            out.append((key, self.fmt.candle(key, ev)))
        key = f"/market/snapshot:{sym}"
        if not ev.closed and key in wanted:  # once a second
            out.append((key, self.fmt.snapshot(key, ev.symbol, ev.ts_ms)))

    def is_book_diff(self, key: str, data: bytes) -> bool:
        return "level2Depth50:" in key


class KucoinFuturesDialect(KucoinDialect):
    url_venue = "kucoin_futures"
    market_venue = "kucoin_futures"
    futures: ClassVar[bool] = True
    channels = FUTURES_CHANNELS


def _handler(market_venue: str) -> Callable[[web.Request], Any]:
    async def handle(request: web.Request) -> web.StreamResponse:
        if not request.query.get("token"):
            return web.json_response({"code": "401", "msg": "token is required"}, status=401)
        ctx = ctx_of(request)
        welcome = {"id": request.query.get("connectId", ""), "type": "welcome"}
        options = WsOptions(idle_timeout_s=IDLE_TIMEOUT_S)
        dialect = ctx.hub.dialects[market_venue]
        return await serve_ws(request, ctx, dialect, "", options, greeting=welcome)

    return handle


def ws_routes(url_venue: str) -> list[web.RouteDef]:
    return [web.get(f"/{url_venue}/ws", _handler(url_venue))]
