"""Deribit JSON-RPC WebSocket dialect at `/deribit/ws/api/v2`.

Methods: `public/subscribe` / `public/unsubscribe` (the answer lists the channels that took;
`.raw` intervals need auth and are refused), `public/set_heartbeat` (then a `test_request`
every interval; one left unanswered by the next closes the connection, as Deribit does),
`public/disable_heartbeat` and `public/test`. Channels `ticker.{inst}.100ms` (at most every
100 ms), `trades.{inst}.100ms` (liquidations are trades flagged `liquidation`),
`chart.trades.{inst}.1`, `book.{inst}.100ms` (snapshot, then changes; the
`depth_gap_every` fault skips a change, which breaks the `prev_change_id` chain) and
`deribit_volatility_index.{btc_usd|eth_usd}` (DVOL once a second, `options.py`). Each
simulated BTC or ETH is also the inverse BTC-PERPETUAL / ETH-PERPETUAL (USD amounts,
`inverse.py`). Payloads are built in `frames.py`, REST in `rest.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from microservices.data_collector.exchanges.deribit.simulator.frames import (
    DeribitBooks,
    DeribitFormat,
    notification,
    venue_symbol,
)
from microservices.data_collector.exchanges.deribit.simulator.inverse import (
    as_inverse,
    inverse_name,
)
from microservices.data_collector.exchanges.deribit.simulator.options import dvol
from microservices.exchange_simulator.market import (
    BarUpdate,
    DepthDiff,
    Event,
    Liquidation,
    Mark,
    MarketModel,
    Quote,
    Trade,
)
from microservices.exchange_simulator.naming import by_venue_symbol, sim_base
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

INTERVALS: Final = frozenset({"100ms", "agg2"})  # "raw" needs an authorized connection
DVOL_PREFIX: Final = "deribit_volatility_index"
DVOL_CURRENCIES: Final = frozenset({"BTC", "ETH"})  # Deribit publishes DVOL of these only
DVOL_PUSH_MS: Final = 1_000
TICKER_PUSH_MS: Final = 100
MIN_HEARTBEAT_S: Final = 10


def rpc_result(request_id: Any, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result, "testnet": False}


def rpc_error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message},
            "testnet": False}  # fmt: skip


@dataclass(slots=True)
class Heartbeat:
    """A connection's heartbeat: when the next test_request is due, and whether the last one
    is still unanswered."""

    session: WsSession
    interval_ms: int
    due_ms: int
    pending: bool = False


class DeribitDialect(Dialect):
    url_venue = "deribit"
    market_venue = "deribit"

    def __init__(self, market: MarketModel) -> None:
        super().__init__(market)
        self.venue_syms = {s: venue_symbol(s) for s in market.instruments}
        # symbol -> its instrument names: the linear perpetual, then the inverse one if any
        self.names = {s: (v, *filter(None, [inverse_name(s)])) for s, v in self.venue_syms.items()}
        self.by_venue_symbol = by_venue_symbol(self.venue_syms)
        self.by_venue_symbol.update({n: s for s, names in self.names.items() for n in names})
        self.fmt = DeribitFormat(market, self.market_venue)
        self.books = DeribitBooks(self.fmt)
        self.heartbeats: dict[str, Heartbeat] = {}  # conn id -> heartbeat
        self._ticker_ms: dict[str, int] = {}
        self._dvol_ms: dict[str, int] = {}  # DVOL channel -> last push

    # ---------------------------------------------------------------- messages

    def key_symbol(self, key: str) -> str | None:
        """`ticker.X.100ms`, `book.X.100ms`, `trades.X.100ms`, `chart.trades.X.1` -> symbol."""
        parts = key.split(".")
        if len(parts) < 3:
            return None
        return self.by_venue_symbol.get(parts[2 if parts[0] == "chart" else 1].upper())

    def channel_ok(self, channel: str) -> bool:
        """A public channel of a simulated instrument this dialect serves."""
        parts = channel.split(".")
        if parts[0] == DVOL_PREFIX:
            return len(parts) == 2 and self._dvol_symbol(parts[1]) is not None
        if parts[0] == "chart":
            return len(parts) == 4 and parts[1] == "trades" and parts[3] == "1" and (
                self.key_symbol(channel) is not None)  # fmt: skip
        return (
            len(parts) == 3
            and parts[0] in ("ticker", "trades", "book")
            and parts[2] in INTERVALS
            and self.key_symbol(channel) is not None
        )

    def on_message(self, session: WsSession, text: str) -> None:
        msg = parse_json(text)
        if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0":
            session.send_control(rpc_error(None, -32700, "Parse error"))
            return
        request_id, method = msg.get("id"), msg.get("method")
        params = msg.get("params")
        if not isinstance(params, dict):
            params = {}
        handler = self._methods().get(str(method))
        if handler is None:
            session.send_control(rpc_error(request_id, -32601, "Method not found"))
            return
        handler(session, request_id, params)

    def _methods(self) -> dict[str, Callable[[WsSession, Any, dict[str, Any]], None]]:
        return {
            "public/subscribe": self._subscribe,
            "public/unsubscribe": self._unsubscribe,
            "public/set_heartbeat": self._set_heartbeat,
            "public/disable_heartbeat": self._disable_heartbeat,
            "public/test": self._test,
        }

    def _channels(self, session: WsSession, request_id: Any, params: dict[str, Any]) -> list[str]:
        channels = params.get("channels")
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            session.send_control(rpc_error(request_id, -32602, "Invalid params"))
            return []
        return [c for c in channels if self.channel_ok(c)]

    def _subscribe(self, session: WsSession, request_id: Any, params: dict[str, Any]) -> None:
        valid = self._channels(session, request_id, params)
        if valid or isinstance(params.get("channels"), list):
            session.send_control(rpc_result(request_id, valid))  # before the first snapshot
        if valid:
            session.subscribe(valid)

    def _unsubscribe(self, session: WsSession, request_id: Any, params: dict[str, Any]) -> None:
        valid = [c for c in self._channels(session, request_id, params) if c in session.subs]
        session.unsubscribe(valid)
        session.send_control(rpc_result(request_id, valid))

    def _set_heartbeat(self, session: WsSession, request_id: Any, params: dict[str, Any]) -> None:
        interval = params.get("interval")
        if (
            not isinstance(interval, int | float)
            or isinstance(interval, bool)
            or (interval < MIN_HEARTBEAT_S)
        ):
            session.send_control(rpc_error(request_id, -32602, "Invalid params"))
            return
        interval_ms = int(interval * 1000)
        now = self.market.now_ms
        self.heartbeats[session.conn_id] = Heartbeat(session, interval_ms, now + interval_ms)
        session.send_control(rpc_result(request_id, "ok"))

    def _disable_heartbeat(self, session: WsSession, request_id: Any, _: dict[str, Any]) -> None:
        self.heartbeats.pop(session.conn_id, None)
        session.send_control(rpc_result(request_id, "ok"))

    def _test(self, session: WsSession, request_id: Any, _: dict[str, Any]) -> None:
        beat = self.heartbeats.get(session.conn_id)
        if beat is not None:
            beat.pending = False
        session.send_control(rpc_result(request_id, {"version": "1.2.26"}), PONG_KEY)

    def beat(self, now_ms: int) -> None:
        """Send due test_requests; close a connection that left the last one unanswered."""
        for conn_id, beat in list(self.heartbeats.items()):
            if beat.session.closing:
                del self.heartbeats[conn_id]
                continue
            if now_ms < beat.due_ms:
                continue
            if beat.pending:
                del self.heartbeats[conn_id]
                beat.session.stats.server_closes += 1
                beat.session.close_later()
                continue
            beat.pending, beat.due_ms = True, now_ms + beat.interval_ms
            message = {"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}}
            beat.session.send_control(message)

    def replay_key(self, obj: Any) -> str | None:
        params = obj.get("params") if isinstance(obj, dict) else None
        channel = params.get("channel") if isinstance(params, dict) else None
        return channel if isinstance(channel, str) else None

    def is_control(self, obj: Any) -> bool:
        return isinstance(obj, dict) and ("id" in obj or obj.get("method") == "heartbeat")

    # ---------------------------------------------------------------- frames

    def initial_frames(self, keys: Iterable[str]) -> list[Item]:
        items: list[Item] = []
        now = self.market.now_ms
        for key in keys:
            symbol = self.key_symbol(key)
            if symbol is None:
                continue
            payload: dict[str, Any] | None = None
            if key.startswith("ticker."):
                payload = notification(key, self.fmt.ticker(symbol, now))
            elif key.startswith("book."):
                payload = self.books.snapshot(key, symbol, now)
            if payload is not None:
                payload = as_inverse(payload, key.split(".")[1])
                items.append((DATA, key, self.encode(key, payload, "")))
        return items

    def render(self, events: list[Event], wanted: set[str]) -> Rendered:
        self.beat(self.market.now_ms)
        out: Rendered = []
        touched: dict[str, int] = {}
        for ev in events:
            for sym in self.names[ev.symbol]:
                self._event(ev, sym, wanted, out)
            if isinstance(ev, Quote | Trade | Mark):
                touched[ev.symbol] = ev.ts_ms
        for symbol, ts in touched.items():
            keys = [k for n in self.names[symbol] if (k := f"ticker.{n}.100ms") in wanted]
            if not keys or ts - self._ticker_ms.get(symbol, 0) < TICKER_PUSH_MS:
                continue
            self._ticker_ms[symbol] = ts
            for key in keys:
                payload = notification(key, self.fmt.ticker(symbol, ts))
                out.append((key, as_inverse(payload, key.split(".")[1])))
        self._dvol(wanted, out)
        return out

    def _event(self, ev: Event, sym: str, wanted: set[str], out: Rendered) -> None:
        """The frames of one event on the instrument named `sym` (linear or inverse)."""
        if isinstance(ev, DepthDiff):
            self._book(ev, sym, wanted, out)
        elif isinstance(ev, Trade | Liquidation) and f"trades.{sym}.100ms" in wanted:
            row = self.fmt.trade(ev) if isinstance(ev, Trade) else self.fmt.liquidation(ev)
            key = f"trades.{sym}.100ms"
            out.append((key, as_inverse(notification(key, [row]), sym)))
        elif isinstance(ev, BarUpdate) and f"chart.trades.{sym}.1" in wanted:
            key = f"chart.trades.{sym}.1"
            out.append((key, as_inverse(notification(key, self.fmt.chart(ev)), sym)))

    def _dvol_symbol(self, index_name: str) -> str | None:
        """`btc_usd` -> the simulated BTCUSDT (None when not simulated or not an index)."""
        currency = index_name.removesuffix("_usd").upper()
        if index_name != f"{currency.lower()}_usd" or currency not in DVOL_CURRENCIES:
            return None
        return next((s for s in self.market.instruments if sim_base(s) == currency), None)

    def _dvol(self, wanted: set[str], out: Rendered) -> None:
        """DVOL of every subscribed index, at most every DVOL_PUSH_MS."""
        now = self.market.now_ms
        for key in sorted(k for k in wanted if k.startswith(DVOL_PREFIX + ".")):
            if now - self._dvol_ms.get(key, 0) < DVOL_PUSH_MS:
                continue
            self._dvol_ms[key] = now
            name = key.split(".", 1)[1]
            value = dvol(self.market.cfg.volatility, now)
            data = {"volatility": value, "timestamp": now, "index_name": name}
            out.append((key, notification(key, data)))

    def _book(self, ev: DepthDiff, sym: str, wanted: set[str], out: Rendered) -> None:
        key = f"book.{sym}.100ms"
        if key not in wanted:
            self.books.forget(key)
            return
        frame = self.books.change(key, ev.symbol, ev.ts_ms)
        if frame is not None:
            out.append((key, as_inverse(frame, sym)))

    def is_book_diff(self, key: str, data: bytes) -> bool:
        return key.startswith("book.") and b'"type":"change"' in data


async def handle(request: web.Request) -> web.WebSocketResponse:
    ctx = ctx_of(request)
    return await serve_ws(request, ctx, ctx.hub.dialects["deribit"], "", WsOptions())


def ws_routes(prefix: str = "/deribit") -> list[web.RouteDef]:
    return [web.get(prefix + "/ws/api/v2", handle)]
