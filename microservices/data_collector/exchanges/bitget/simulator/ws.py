"""Bitget v2 public WebSocket dialects under `/bitget/v2/ws/public`: USDT-FUTURES (`bitget`)
and SPOT (`bitget_spot`) on one path, as at the venue.

Channels trade, ticker (full pushes at most every 100 ms), candle1m (the open bar once a
second, a snapshot first) and books (snapshot, then updates with seq and checksum,
`frames.py`). `{"op":"subscribe","args":[...]}` is acked per arg with `{"event":"subscribe",
"arg":...}`; a bad arg gets `{"event":"error","code":30001,...}`; the text `ping` gets `pong`.
A connection serves the instType of its first subscription: the simulator keeps one market
per connection (the collector opens one per venue).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Final

from aiohttp import web

from microservices.data_collector.exchanges.bitget.simulator.frames import (
    TICKER_PUSH_MS,
    BitgetBooks,
    BitgetFormat,
)
from microservices.exchange_simulator.market import BarUpdate, DepthDiff, Event, MarketModel, Trade
from microservices.exchange_simulator.naming import by_venue_symbol
from microservices.exchange_simulator.runtime import ctx_of
from microservices.exchange_simulator.session import CONTROL, DATA, Item, WsSession
from microservices.exchange_simulator.stats import PONG_KEY
from microservices.exchange_simulator.venues.base import (
    Dialect,
    Rendered,
    WsOptions,
    parse_json,
    serve_ws,
)

CHANNELS: Final = frozenset({"trade", "ticker", "candle1m", "books"})
IDLE_TIMEOUT_S: Final = 120.0  # the venue closes a socket that sent nothing for 2 minutes


class BitgetDialect(Dialect):
    """USDT-FUTURES; the spot dialect changes the instType."""

    url_venue = "bitget"
    market_venue = "bitget"
    inst_type: ClassVar[str] = "USDT-FUTURES"

    def __init__(self, market: MarketModel) -> None:
        super().__init__(market)
        self.venue_syms = {s: s for s in market.instruments}  # BTCUSDT spelled BTCUSDT
        self.by_venue_symbol = by_venue_symbol(self.venue_syms)
        self.fmt = BitgetFormat(market, self.market_venue, self.inst_type)
        self.books = BitgetBooks(self.fmt)
        self._ticker_ms: dict[str, int] = {}

    # ---------------------------------------------------------------- messages

    def key_symbol(self, key: str) -> str | None:
        return self.by_venue_symbol.get(key.partition(":")[2])

    def on_message(self, session: WsSession, text: str) -> None:
        if text == "ping":
            session.enqueue([(CONTROL, PONG_KEY, b"pong")])
            return
        msg = parse_json(text)
        op = msg.get("op") if isinstance(msg, dict) else None
        args = msg.get("args") if isinstance(msg, dict) else None
        if op not in ("subscribe", "unsubscribe") or not isinstance(args, list) or not args:
            session.send_control({"event": "error", "code": 30001, "msg": "Illegal request"})
            return
        dialect = self._dialect_for(session, args)
        keys = [key for arg in args if (key := dialect.arg_key(session, op, arg)) is not None]
        if op == "subscribe" and keys:
            session.subscribe(keys)
        elif op == "unsubscribe":
            session.unsubscribe(keys)

    def _dialect_for(self, session: WsSession, args: list[Any]) -> BitgetDialect:
        """A new connection takes the instType of its first subscription."""
        first = args[0].get("instType") if isinstance(args[0], dict) else None
        if not session.started and first != self.inst_type:
            for dialect in session.ctx.hub.dialects.values():
                if isinstance(dialect, BitgetDialect) and dialect.inst_type == first:
                    session.dialect = dialect
                    return dialect
        return self

    def arg_key(self, session: WsSession, op: str, arg: Any) -> str | None:
        """The stream key of one subscribe arg, acked; None (and an error event) if bad."""
        ok = isinstance(arg, dict) and arg.get("instType") == self.inst_type
        channel, sym = (arg.get("channel"), arg.get("instId")) if ok else (None, None)
        if channel not in CHANNELS or not isinstance(sym, str) or sym not in self.by_venue_symbol:
            detail = f"instType:{self.inst_type},channel:{channel},instId:{sym} doesn't exist"
            session.send_control({"event": "error", "arg": arg, "code": 30001, "msg": detail})
            return None
        session.send_control({"event": op, "arg": arg})
        return f"{channel}:{sym}"

    def replay_key(self, obj: Any) -> str | None:
        arg = obj.get("arg") if isinstance(obj, dict) and "action" in obj else None
        if not isinstance(arg, dict):
            return None
        return f"{arg.get('channel')}:{arg.get('instId')}"

    def is_control(self, obj: Any) -> bool:
        return isinstance(obj, dict) and "event" in obj

    # ---------------------------------------------------------------- frames

    def initial_frames(self, keys: Iterable[str]) -> list[Item]:
        items: list[Item] = []
        now = self.market.now_ms
        for key in keys:
            symbol = self.key_symbol(key)
            if symbol is None:
                continue
            channel, _, sym = key.partition(":")
            payload: dict[str, Any] | None = None
            if channel == "ticker":
                payload = self.fmt.ticker(symbol, sym, now)
            elif channel == "books":
                payload = self.books.snapshot(key, sym, symbol, now)
            elif channel == "candle1m":
                bar = self.market.book(self.market_venue, symbol).bars.current.freeze()
                payload = self.fmt.candle(sym, BarUpdate("", symbol, now, bar, False), "snapshot")
            if payload is not None:
                items.append((DATA, key, self.encode(key, payload, "")))
        return items

    def render(self, events: list[Event], wanted: set[str]) -> Rendered:
        out: Rendered = []
        touched: dict[str, int] = {}
        for ev in events:
            sym = self.venue_syms[ev.symbol]
            if isinstance(ev, DepthDiff):
                self._depth(ev, sym, wanted, out)
                continue
            if isinstance(ev, Trade) and f"trade:{sym}" in wanted:
                out.append((f"trade:{sym}", self.fmt.trade(ev, sym)))
            elif isinstance(ev, BarUpdate) and f"candle1m:{sym}" in wanted:
                out.append((f"candle1m:{sym}", self.fmt.candle(sym, ev)))
            touched[ev.symbol] = ev.ts_ms
        for symbol, ts in touched.items():
            sym = self.venue_syms[symbol]
            if f"ticker:{sym}" in wanted and ts - self._ticker_ms.get(symbol, 0) >= TICKER_PUSH_MS:
                self._ticker_ms[symbol] = ts
                out.append((f"ticker:{sym}", self.fmt.ticker(symbol, sym, ts)))
        return out

    def _depth(self, ev: DepthDiff, sym: str, wanted: set[str], out: Rendered) -> None:
        key = f"books:{sym}"
        if key not in wanted:
            self.books.forget(key)
            return
        frame = self.books.update(key, sym, ev.symbol, ev.ts_ms)
        if frame is not None:
            out.append((key, frame))

    def is_book_diff(self, key: str, data: bytes) -> bool:
        return key.startswith("books:") and b'"action":"update"' in data


class BitgetSpotDialect(BitgetDialect):
    market_venue = "bitget_spot"
    inst_type = "SPOT"


async def public(request: web.Request) -> web.WebSocketResponse:
    """`/v2/ws/public`: served by the futures dialect until a SPOT subscription."""
    ctx = ctx_of(request)
    options = WsOptions(idle_timeout_s=IDLE_TIMEOUT_S)
    return await serve_ws(request, ctx, ctx.hub.dialects["bitget"], "", options)


def ws_routes(prefix: str = "/bitget") -> list[web.RouteDef]:
    return [web.get(prefix + "/v2/ws/public", public)]
