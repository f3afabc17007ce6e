"""Binance spot dialect under `/binance`: combined and raw streams, live SUBSCRIBE.

Streams `<sym>@aggTrade|trade|bookTicker|kline_1m|depth@100ms` with the spot shapes
(bookTicker without e/E, prices and sizes as 8-decimal strings; depthUpdate diffs of the L2
ladder, whose REST snapshot is `depth.py`). REST is in `spot_rest.py`; the futures
dialect subclasses `BinanceDialect`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Final

import orjson
from aiohttp import web

from microservices.exchange_simulator.bars import MINUTE_MS, Bar
from microservices.exchange_simulator.market import BarUpdate, DepthDiff, Event, Quote, Trade
from microservices.exchange_simulator.naming import by_venue_symbol
from microservices.exchange_simulator.runtime import ctx_of
from microservices.exchange_simulator.session import Item, WsSession
from microservices.exchange_simulator.venues.base import (
    Dialect,
    Rendered,
    WsOptions,
    fmt,
    parse_json,
    serve_ws,
)

METHODS: Final = "SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY"
Builder = Callable[[Any, str, set[str], list[tuple[str, Any]]], None]


class BinanceDialect(Dialect):
    url_venue = "binance"
    market_venue = "binance"
    kinds: ClassVar[tuple[str, ...]] = (
        "aggTrade",
        "trade",
        "bookTicker",
        "kline_1m",
        "depth@100ms",
    )

    def __init__(self, market: Any) -> None:
        super().__init__(market)
        self._kinds = {k.lower(): k for k in self.kinds}
        self.venue_syms = {s: s for s in market.instruments}  # BTCUSDT spelled BTCUSDT
        self.by_venue_symbol = by_venue_symbol(self.venue_syms)
        self._prefix = {s: v.lower() + "@" for s, v in self.venue_syms.items()}
        self._by_prefix = {p[:-1]: s for s, p in self._prefix.items()}
        self._builders: dict[type, Builder] = {
            Trade: self._trade,
            Quote: self._quote,
            BarUpdate: self._kline,
            DepthDiff: self._depth,
        }

    # ---------------------------------------------------------------- streams and messages

    def normalize(self, name: str) -> str:
        """'BTCUSDT@aggtrade' -> 'btcusdt@aggTrade' (symbol lower case, known kinds cased)."""
        sym, _, kind = name.partition("@")
        return f"{sym.lower()}@{self._kinds.get(kind.lower(), kind)}"

    def key_symbol(self, key: str) -> str | None:
        return self._by_prefix.get(key.partition("@")[0])

    def on_message(self, session: WsSession, text: str) -> None:
        msg = parse_json(text)
        if not isinstance(msg, dict):
            session.send_control(
                {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1", "id": None}
            )
            return
        method, req_id, params = msg.get("method"), msg.get("id"), msg.get("params", [])
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                session.send_control(
                    {
                        "code": 2,
                        "msg": "Invalid request: params must be a list of stream names",
                        "id": req_id,
                    }
                )
                return
            session.send_control({"result": None, "id": req_id})
            keys = [self.normalize(p) for p in params]
            if method == "SUBSCRIBE":
                session.subscribe(keys)
            else:
                session.unsubscribe(keys)
        elif method == "LIST_SUBSCRIPTIONS":
            session.send_control({"result": sorted(session.subs), "id": req_id})
        elif method in ("SET_PROPERTY", "GET_PROPERTY"):
            session.send_control(
                {"result": None if method == "SET_PROPERTY" else False, "id": req_id}
            )
        else:
            session.send_control(
                {
                    "code": 2,
                    "msg": f"Invalid request: unknown variant {method}, expected one of {METHODS}",
                    "id": req_id,
                }
            )

    def encode(self, key: str, payload: Any, mode: str) -> bytes:
        body = orjson.dumps(payload)
        if mode == "combined":
            return b'{"stream":"' + key.encode() + b'","data":' + body + b"}"
        return body

    def initial_frames(self, keys: Iterable[str]) -> list[Item]:
        """No frame, but a depth subscription brings the pair's L2 ladder to life."""
        for key in keys:
            symbol = self.key_symbol(key)
            if symbol is not None and key.endswith("@depth@100ms"):
                self.market.depth(self.market_venue, symbol)
        return []

    def is_book_diff(self, key: str, data: bytes) -> bool:
        return key.endswith("@depth@100ms")

    def replay_key(self, obj: Any) -> str | None:
        if not isinstance(obj, dict):
            return None
        if isinstance(obj.get("stream"), str):
            return str(obj["stream"])
        if isinstance(obj.get("s"), str) and isinstance(obj.get("e"), str):
            return f"{obj['s'].lower()}@{obj['e']}"
        return None

    def is_control(self, obj: Any) -> bool:
        return isinstance(obj, dict) and "id" in obj and ("result" in obj or "code" in obj)

    def replay_frame(self, text: str, obj: Any, mode: str) -> bytes:
        wrapped = isinstance(obj, dict) and "stream" in obj and "data" in obj
        if mode == "raw" and wrapped:
            return orjson.dumps(obj["data"])
        if mode == "combined" and not wrapped and obj is not None:
            return self.encode(self.replay_key(obj) or "unknown", obj, mode)
        return text.encode()

    # ---------------------------------------------------------------- payloads

    def price_dp(self, symbol: str) -> int:
        return 8

    def qty_dp(self, symbol: str) -> int:
        return 8

    def render(self, events: list[Event], wanted: set[str]) -> Rendered:
        out: Rendered = []
        for event in events:
            builder = self._builders.get(type(event))
            if builder is not None:
                builder(event, self._prefix[event.symbol], wanted, out)
        return out

    def _trade(self, ev: Trade, prefix: str, wanted: set[str], out: Rendered) -> None:
        p, q, sym = self.price_dp(ev.symbol), self.qty_dp(ev.symbol), self.venue_syms[ev.symbol]
        if prefix + "aggTrade" in wanted:
            out.append(
                (
                    prefix + "aggTrade",
                    {
                        "e": "aggTrade",
                        "E": ev.ts_ms,
                        "s": sym,
                        "a": ev.seq,
                        "p": fmt(ev.price, p),
                        "q": fmt(ev.qty, q),
                        "f": ev.trade_id,
                        "l": ev.trade_id,
                        "T": ev.ts_ms,
                        "m": not ev.taker_buy,
                        "M": True,
                    },
                )
            )
        if prefix + "trade" in wanted:
            out.append(
                (
                    prefix + "trade",
                    {
                        "e": "trade",
                        "E": ev.ts_ms,
                        "s": sym,
                        "t": ev.trade_id,
                        "p": fmt(ev.price, p),
                        "q": fmt(ev.qty, q),
                        "T": ev.ts_ms,
                        "m": not ev.taker_buy,
                        "M": True,
                    },
                )
            )

    def _quote(self, ev: Quote, prefix: str, wanted: set[str], out: Rendered) -> None:
        key = prefix + "bookTicker"
        if key in wanted:
            p, q = self.price_dp(ev.symbol), self.qty_dp(ev.symbol)
            out.append(
                (
                    key,
                    {
                        "u": ev.update_id,
                        "s": self.venue_syms[ev.symbol],
                        "b": fmt(ev.bid, p),
                        "B": fmt(ev.bid_qty, q),
                        "a": fmt(ev.ask, p),
                        "A": fmt(ev.ask_qty, q),
                    },
                )
            )

    def _depth(self, ev: DepthDiff, prefix: str, wanted: set[str], out: Rendered) -> None:
        key = prefix + "depth@100ms"
        if key in wanted:
            self.market.depth(self.market_venue, ev.symbol)  # in use: keep it live
            out.append((key, self.depth_update(ev)))

    def depth_update(self, ev: DepthDiff) -> dict[str, Any]:
        return {
            "e": "depthUpdate",
            "E": ev.ts_ms,
            "s": self.venue_syms[ev.symbol],
            "U": ev.first_id,
            "u": ev.last_id,
            "b": self.levels(ev.symbol, ev.bids),
            "a": self.levels(ev.symbol, ev.asks),
        }

    def levels(self, symbol: str, rows: Iterable[tuple[float, float]]) -> list[list[str]]:
        """[[price, size], ...] as Binance writes them (size "0..." removes a level)."""
        p, q = self.price_dp(symbol), self.qty_dp(symbol)
        return [[fmt(price, p), fmt(size, q)] for price, size in rows]

    def _kline(self, ev: BarUpdate, prefix: str, wanted: set[str], out: Rendered) -> None:
        key = prefix + "kline_1m"
        if key in wanted:
            out.append(
                (
                    key,
                    {
                        "e": "kline",
                        "E": ev.ts_ms,
                        "s": self.venue_syms[ev.symbol],
                        "k": self.kline_body(ev.bar, ev.symbol, ev.closed),
                    },
                )
            )

    def kline_body(self, bar: Bar, symbol: str, closed: bool) -> dict[str, Any]:
        p, q, sym = self.price_dp(symbol), self.qty_dp(symbol), self.venue_syms[symbol]
        traded = bar.trades > 0 and bar.first_id > 0
        return {
            "t": bar.open_ms,
            "T": bar.open_ms + MINUTE_MS - 1,
            "s": sym,
            "i": "1m",
            "f": bar.first_id if traded else -1,
            "L": bar.last_id if traded else -1,
            "o": fmt(bar.open, p),
            "c": fmt(bar.close, p),
            "h": fmt(bar.high, p),
            "l": fmt(bar.low, p),
            "v": fmt(bar.volume, q),
            "n": bar.trades,
            "x": closed,
            "q": fmt(bar.quote_volume, p),
            "V": fmt(bar.taker_buy_volume, q),
            "Q": fmt(bar.taker_buy_quote, p),
            "B": "0",
        }


# ------------------------------------------------------------------------------- routes


def ws_handlers(
    venue: str, options: Callable[[web.Request], WsOptions]
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """(combined handler, raw handler) for a Binance venue's WebSocket paths."""

    def dialect(request: web.Request) -> BinanceDialect:
        found = ctx_of(request).hub.dialects[venue]
        assert isinstance(found, BinanceDialect)
        return found

    def keys(d: BinanceDialect, names: Iterable[str]) -> list[str]:
        return [d.normalize(n) for n in names if n]

    async def combined(request: web.Request) -> web.WebSocketResponse:
        d = dialect(request)
        names = keys(d, request.query.get("streams", "").split("/"))
        return await serve_ws(request, ctx_of(request), d, "combined", options(request), names)

    async def raw(request: web.Request) -> web.WebSocketResponse:
        d = dialect(request)
        names = keys(d, request.match_info.get("stream", "").split("/"))
        return await serve_ws(request, ctx_of(request), d, "raw", options(request), names)

    return combined, raw


def spot_options(request: web.Request) -> WsOptions:
    cfg = ctx_of(request).config
    return WsOptions(
        ping_interval_s=cfg.binance_ping_interval_s, pong_timeout_s=cfg.binance_pong_timeout_s
    )


def ws_routes(
    venue: str, prefix: str, options: Callable[[web.Request], WsOptions]
) -> list[web.RouteDef]:
    combined, raw = ws_handlers(venue, options)
    return [
        web.get(prefix + "/stream", combined),
        web.get(prefix + "/ws", raw),
        web.get(prefix + "/ws/{stream:.+}", raw),
    ]
