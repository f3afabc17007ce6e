"""Bybit v5 public WebSocket dialects: `/bybit/v5/public/linear` and `/bybit/v5/public/spot`.

Topics publicTrade, tickers (linear: a snapshot then deltas; spot: snapshots), kline.1,
orderbook.1 (top-of-book snapshots), orderbook.{50,200,500,1000} (L2 snapshot then deltas,
`depth.py`) and allLiquidation (linear). JSON ping/pong and
subscribe acks as documented. Payloads are built in `frames.py`, REST in `rest.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Final

from aiohttp import web

from microservices.data_collector.exchanges.bybit.simulator.depth import L2_DEPTHS, BybitBooks
from microservices.data_collector.exchanges.bybit.simulator.frames import (
    BybitFormat,
    LinearTickers,
    SpotTickers,
)
from microservices.exchange_simulator.market import (
    BarUpdate,
    DepthDiff,
    Event,
    Liquidation,
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

TOPICS: Final = ("publicTrade", "tickers", "kline", "orderbook", "allLiquidation")
KLINE_INTERVALS: Final = frozenset(
    ["1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M"]
)
BOOK_DEPTHS: Final = ("1", *L2_DEPTHS)


class BybitDialect(Dialect):
    """Linear perpetuals; the spot dialect changes a few flags."""

    url_venue = "bybit"
    market_venue = "bybit"
    spot: ClassVar[bool] = False

    def __init__(self, market: MarketModel) -> None:
        super().__init__(market)
        self.venue_syms = {s: s for s in market.instruments}  # BTCUSDT spelled BTCUSDT
        self._canonical = {v: s for s, v in self.venue_syms.items()}
        self.by_venue_symbol = by_venue_symbol(self.venue_syms)
        self.fmt = BybitFormat(market, self.market_venue, self.spot)
        tickers = SpotTickers if self.spot else LinearTickers
        self.tickers = tickers(self.fmt, self.venue_syms)
        self.books = BybitBooks(self.fmt)

    # ---------------------------------------------------------------- messages

    def key_symbol(self, key: str) -> str | None:
        return self._canonical.get(key.rpartition(".")[2])

    def topic_error(self, topic: str) -> str | None:
        """Why a topic cannot be subscribed, or None when it can."""
        parts = topic.split(".")
        name = parts[0]
        arity = 3 if name in ("kline", "orderbook") else 2
        if name not in TOPICS or len(parts) != arity or (name == "allLiquidation" and self.spot):
            return f"error:handler not found,topic:{topic}"
        if (name == "kline" and parts[1] not in KLINE_INTERVALS) or (
            name == "orderbook" and parts[1] not in BOOK_DEPTHS
        ):
            return f"error:handler not found,topic:{topic}"
        if self.key_symbol(topic) is None:
            return f"Invalid symbol :[{topic}]"
        return None

    def on_message(self, session: WsSession, text: str) -> None:
        msg = parse_json(text)
        if not isinstance(msg, dict):
            error = {"success": False, "ret_msg": "error:request not json", "op": ""}
            session.send_control({**error, "conn_id": session.conn_id})
            return
        op, args = msg.get("op"), msg.get("args") or []
        reply: dict[str, Any] = {
            "success": True,
            "ret_msg": "",
            "conn_id": session.conn_id,
            "req_id": msg.get("req_id", ""),
            "op": op,
        }
        if op == "ping":
            reply["ret_msg"] = "pong"
            if self.spot and "req_id" not in msg:
                del reply["req_id"]
            session.send_control(reply, PONG_KEY)
        elif op in ("subscribe", "unsubscribe"):
            self._subscription(session, op, args, reply)
        else:
            session.send_control({**reply, "success": False, "ret_msg": f"error:bad op {op}"})

    def _subscription(self, session: WsSession, op: str, args: Any, reply: dict[str, Any]) -> None:
        if self.spot:
            reply["ret_msg"] = op  # spot acks say "subscribe"; linear leaves it empty
        ok = isinstance(args, list) and bool(args) and all(isinstance(a, str) for a in args)
        valid: list[str] = []
        if not ok:
            errors = ["error:args must be a non-empty list of topics"]
        elif self.spot and len(args) > 10:
            errors = ["args size >10"]
        else:
            checked = [(t, self.topic_error(t)) for t in args]
            errors = [e for _, e in checked if e is not None]
            valid = [t for t, e in checked if e is None]
        if errors:
            reply.update(success=False, ret_msg="; ".join(errors))
        session.send_control(reply)  # the ack goes out before the first snapshot
        if op == "subscribe" and valid:
            session.subscribe(valid)
        elif op == "unsubscribe":
            session.unsubscribe(valid)

    def replay_key(self, obj: Any) -> str | None:
        topic = obj.get("topic") if isinstance(obj, dict) else None
        return topic if isinstance(topic, str) else None

    def is_control(self, obj: Any) -> bool:
        return isinstance(obj, dict) and ("op" in obj or "success" in obj)

    # ---------------------------------------------------------------- frames

    def initial_frames(self, keys: Iterable[str]) -> list[Item]:
        items: list[Item] = []
        now = self.market.now_ms
        for key in keys:
            symbol = self.key_symbol(key)
            if symbol is None:
                continue
            payload: dict[str, Any] | None = None
            if key.startswith("tickers."):
                payload = self.tickers.frame(symbol, now, first=True)
            elif key.startswith("orderbook.1."):
                book = self.market.book(self.market_venue, symbol)
                payload = self.fmt.book(key, self.venue_syms[symbol], book, now, book.update_id)
            elif key.startswith("orderbook."):
                payload = self.books.snapshot(key, self.venue_syms[symbol], symbol, now)
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
            if isinstance(ev, Trade):
                self._trade(ev, sym, wanted, out)
            elif isinstance(ev, Quote):
                self._books(ev, sym, wanted, out)
            elif isinstance(ev, BarUpdate) and f"kline.1.{sym}" in wanted:
                out.append((f"kline.1.{sym}", self.fmt.kline(f"kline.1.{sym}", ev)))
            elif isinstance(ev, Liquidation) and f"allLiquidation.{sym}" in wanted:
                key = f"allLiquidation.{sym}"
                out.append((key, self.fmt.liquidation(key, sym, ev)))
            touched[ev.symbol] = ev.ts_ms
        for symbol, ts in touched.items():
            key = f"tickers.{self.venue_syms[symbol]}"
            if key in wanted and self.tickers.due(symbol, ts):
                frame = self.tickers.frame(symbol, ts, first=False)
                if frame is not None:
                    out.append((key, frame))
        return out

    def _trade(self, ev: Trade, sym: str, wanted: set[str], out: Rendered) -> None:
        direction = None if self.spot else self.tickers.tick_direction(ev.symbol, ev.price)
        key = f"publicTrade.{sym}"
        if key not in wanted:
            return
        row = self.fmt.trade_row(ev, sym, direction)
        last = out[-1] if out else None
        if last is not None and last[0] == key and last[1]["ts"] == ev.ts_ms:
            last[1]["data"].append(row)  # trades of one match share one message
        else:
            out.append((key, {"topic": key, "type": "snapshot", "ts": ev.ts_ms, "data": [row]}))

    def _books(self, ev: Quote, sym: str, wanted: set[str], out: Rendered) -> None:
        key = f"orderbook.1.{sym}"
        if key in wanted:  # level 1: a snapshot of the quote each time it changes
            book = self.market.book(self.market_venue, ev.symbol)
            out.append((key, self.fmt.book(key, sym, book, ev.ts_ms, ev.update_id)))

    def _depth(self, ev: DepthDiff, sym: str, wanted: set[str], out: Rendered) -> None:
        for depth in L2_DEPTHS:
            key = f"orderbook.{depth}.{sym}"
            if key not in wanted:
                self.books.forget(key)
                continue
            frame = self.books.delta(key, sym, ev.symbol, ev.ts_ms)
            if frame is not None:
                out.append((key, frame))

    def is_book_diff(self, key: str, data: bytes) -> bool:
        return key.startswith("orderbook.") and b'"type":"delta"' in data


class BybitSpotDialect(BybitDialect):
    market_venue = "bybit_spot"
    spot: ClassVar[bool] = True


def _handler(market_venue: str) -> Callable[[web.Request], Any]:
    async def handle(request: web.Request) -> web.WebSocketResponse:
        ctx = ctx_of(request)
        options = WsOptions(idle_timeout_s=ctx.config.bybit_idle_timeout_s)
        return await serve_ws(request, ctx, ctx.hub.dialects[market_venue], "", options)

    return handle


def ws_routes(prefix: str = "/bybit") -> list[web.RouteDef]:
    return [
        web.get(prefix + "/v5/public/linear", _handler("bybit")),
        web.get(prefix + "/v5/public/spot", _handler("bybit_spot")),
    ]
