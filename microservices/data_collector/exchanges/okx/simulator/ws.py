"""OKX v5 WebSocket dialects: `/okx/ws/v5/public` and `/okx/ws/v5/business` (swap and spot).

Public channels tickers, trades, books (snapshot, then updates with seqId/prevSeqId and the
checksum, `frames.py`), funding-rate, open-interest, mark-price and liquidation-orders (swap),
index-tickers (spot); business channels candle1m, mark-price-candle1m and index-candle1m. A
channel on the wrong endpoint is refused with OKX's error 60018. Text `ping` -> `pong`;
one `{"event": "subscribe", "arg"}` ack per arg. Stream keys are `<channel>:<instId or
instType>`. REST is in `rest.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Final

from aiohttp import web

from microservices.data_collector.exchanges.okx.simulator.frames import (
    OkxBooks,
    OkxFormat,
    frame,
    rate_text,
)
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
from microservices.exchange_simulator.naming import SIM_QUOTE, sim_base
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

TICKER_PUSH_MS: Final = 100  # tickers: at most every 100 ms
OI_PUSH_MS: Final = 3_000  # open interest: every 3 s
FUNDING_PUSH_MS: Final = 30_000  # funding-rate: every 30 s
IDLE_TIMEOUT_S: Final = 30.0  # OKX closes a connection that sends nothing for 30 s


class OkxDialect(Dialect):
    """USDT perpetual swaps; the spot dialect changes the channel sets."""

    url_venue = "okx"
    market_venue = "okx"
    swap: ClassVar[bool] = True
    public: ClassVar[frozenset[str]] = frozenset(
        {"tickers", "trades", "books", "funding-rate", "open-interest", "mark-price"}
    )
    business: ClassVar[frozenset[str]] = frozenset({"candle1m", "mark-price-candle1m"})
    wide: ClassVar[frozenset[str]] = frozenset({"liquidation-orders:SWAP"})

    def __init__(self, market: MarketModel) -> None:
        super().__init__(market)
        suffix = "-SWAP" if self.swap else ""
        self.venue_syms = {s: f"{sim_base(s)}-{SIM_QUOTE}{suffix}" for s in market.instruments}
        self._canonical = {v: s for s, v in self.venue_syms.items()}
        self.fmt = OkxFormat(market, self.market_venue, self.swap)
        self.books = OkxBooks(self.fmt)
        self._pushed: dict[str, int] = {}  # key -> last push (ms)

    # ---------------------------------------------------------------- messages
    def key_symbol(self, key: str) -> str | None:
        return self._canonical.get(key.partition(":")[2])

    def arg_key(self, arg: Any, endpoint: str) -> tuple[str | None, str | None]:
        """(stream key, None) of a subscribe arg, or (None, OKX's error message)."""
        if not isinstance(arg, dict) or not isinstance(arg.get("channel"), str):
            return None, f"Illegal request: {arg}"
        channel = arg["channel"]
        if "instType" in arg and "instId" not in arg:
            key = f"{channel}:{arg['instType']}"
            return (key, None) if key in self.wide and endpoint == "public" else (None, None)
        channels = self.public if endpoint == "public" else self.business
        if channel not in channels:
            wrong = channel in (self.business if endpoint == "public" else self.public)
            return None, f"Wrong URL or channel:{channel}" if wrong else None
        key = f"{channel}:{arg.get('instId')}"
        return (key, None) if self.key_symbol(key) is not None else (None, None)

    def on_message(self, session: WsSession, text: str) -> None:
        """Ping, subscribe and unsubscribe. OKX serves every instType on one URL: a session
        belongs to the market of the first instrument it subscribes."""
        if not session.started and self.swap != _is_swap(text):
            other = session.ctx.hub.dialects["okx_spot" if self.swap else "okx"]
            session.dialect = other
            other.on_message(session, text)
            return
        if text == "ping":
            session.enqueue([(CONTROL, PONG_KEY, b"pong")])
            return
        msg = parse_json(text)
        op = msg.get("op") if isinstance(msg, dict) else None
        args = msg.get("args") if isinstance(msg, dict) else None
        if op not in ("subscribe", "unsubscribe") or not isinstance(args, list) or not args:
            self._error(session, "60012", f"Illegal request: {text[:200]}")
            return
        keys: list[str] = []
        for arg in args:
            key, error = self.arg_key(arg, session.mode)
            if key is None:
                self._error(session, "60018", error or f"Parameter {arg} doesn't exist")
                continue
            session.send_control({"event": op, "arg": arg, "connId": session.conn_id})
            keys.append(key)
        if op == "subscribe" and keys:
            session.subscribe(keys)
        elif op == "unsubscribe":
            session.unsubscribe(keys)
            for key in keys:
                if key.startswith("books:"):
                    self.books.forget(key)

    @staticmethod
    def _error(session: WsSession, code: str, message: str) -> None:
        session.send_control({"event": "error", "code": code, "msg": message,
                              "connId": session.conn_id})  # fmt: skip

    def replay_key(self, obj: Any) -> str | None:
        arg = obj.get("arg") if isinstance(obj, dict) else None
        if not isinstance(arg, dict):
            return None
        return f"{arg.get('channel')}:{arg.get('instId') or arg.get('instType')}"

    def is_control(self, obj: Any) -> bool:
        return isinstance(obj, dict) and "event" in obj

    # ---------------------------------------------------------------- frames
    def initial_frames(self, keys: Iterable[str]) -> list[Item]:
        """What OKX pushes on subscribing: the book snapshot and the current values."""
        now = self.market.now_ms
        items: list[Item] = []
        for key in keys:
            symbol = self.key_symbol(key)
            if symbol is None:
                continue
            payload = self._current(key, symbol, now)
            if payload is not None:
                items.append((DATA, key, self.encode(key, payload, "")))
        return items

    def _current(self, key: str, symbol: str, now: int) -> dict[str, Any] | None:
        channel, _, inst_id = key.partition(":")
        if channel == "books":
            return self.books.snapshot(key, inst_id, symbol, now)
        if channel == "tickers":
            return frame("tickers", inst_id, [self.fmt.ticker_row(symbol, inst_id, now)])
        if channel == "funding-rate":
            return self._funding(symbol, inst_id, now)
        if channel == "open-interest":
            return self._open_interest(symbol, inst_id, now)
        return None

    def _funding(self, symbol: str, inst_id: str, now: int) -> dict[str, Any]:
        m, venue = self.market, self.market_venue
        settle = m.next_funding_ms(venue, symbol, now)
        interval = m.funding_interval_h(venue, symbol) * 3_600_000
        rate = rate_text(m.funding_rate(venue, symbol))
        row = {"instType": "SWAP", "instId": inst_id, "fundingRate": rate,
               "nextFundingRate": "", "fundingTime": str(settle),
               "nextFundingTime": str(settle + interval), "method": "current_period",
               "ts": str(now)}  # fmt: skip
        return frame("funding-rate", inst_id, [row])

    def _open_interest(self, symbol: str, inst_id: str, now: int) -> dict[str, Any]:
        oi = self.market.open_interest(self.market_venue, symbol, now)
        mid = self.market.book(self.market_venue, symbol).mid
        row = {"instType": "SWAP", "instId": inst_id, "oi": self.fmt.size(symbol, oi),
               "oiCcy": f"{oi:.8f}", "oiUsd": f"{oi * mid:.2f}", "ts": str(now)}  # fmt: skip
        return frame("open-interest", inst_id, [row])

    def _due(self, key: str, now: int, every_ms: int) -> bool:
        if now - self._pushed.get(key, 0) < every_ms:
            return False
        self._pushed[key] = now
        return True

    def render(self, events: list[Event], wanted: set[str]) -> Rendered:
        out: Rendered = []
        for ev in events:
            inst_id = self.venue_syms[ev.symbol]
            if isinstance(ev, DepthDiff):
                self._depth(ev, inst_id, wanted, out)
            elif isinstance(ev, Trade):
                if f"trades:{inst_id}" in wanted:
                    out.append((f"trades:{inst_id}", self.fmt.trade(ev, inst_id)))
                self._ticker(ev.symbol, inst_id, ev.ts_ms, wanted, out)
            elif isinstance(ev, Quote):
                self._ticker(ev.symbol, inst_id, ev.ts_ms, wanted, out)
            elif isinstance(ev, BarUpdate):
                self._candles(ev, inst_id, wanted, out)
            elif isinstance(ev, Mark):
                self._mark(ev, inst_id, wanted, out)
            elif isinstance(ev, Liquidation) and "liquidation-orders:SWAP" in wanted:
                uly = f"{sim_base(ev.symbol)}-{SIM_QUOTE}"
                out.append(("liquidation-orders:SWAP", self.fmt.liquidation(ev, inst_id, uly)))
        return out

    def _ticker(self, symbol: str, inst_id: str, ts: int, wanted: set[str], out: Rendered) -> None:
        key = f"tickers:{inst_id}"
        if key in wanted and self._due(key, ts, TICKER_PUSH_MS):
            out.append((key, frame("tickers", inst_id, [self.fmt.ticker_row(symbol, inst_id, ts)])))

    def _candles(self, ev: BarUpdate, inst_id: str, wanted: set[str], out: Rendered) -> None:
        key = f"candle1m:{inst_id}"
        if key in wanted:
            out.append(
                (
                    key,
                    frame("candle1m", inst_id, [self.fmt.candle_row(ev.symbol, ev.bar, ev.closed)]),
                )
            )
        channel = "mark-price-candle1m" if self.swap else "index-candle1m"
        key = f"{channel}:{inst_id}"
        if key in wanted:
            price = self.market.true_price(ev.symbol)
            row = self.fmt.price_candle_row(ev.symbol, ev.bar, price, ev.closed)
            out.append((key, frame(channel, inst_id, [row])))
        key = f"index-tickers:{inst_id}"
        if key in wanted and not self.swap:
            index = self.fmt.price(ev.symbol, self.market.true_price(ev.symbol))
            ticker = {"instId": inst_id, "idxPx": index, "ts": str(ev.ts_ms)}
            out.append((key, frame("index-tickers", inst_id, [ticker])))

    def _mark(self, ev: Mark, inst_id: str, wanted: set[str], out: Rendered) -> None:
        key = f"mark-price:{inst_id}"
        if key in wanted:
            row = {"instType": "SWAP", "instId": inst_id,
                   "markPx": self.fmt.price(ev.symbol, ev.mark), "ts": str(ev.ts_ms)}  # fmt: skip
            out.append((key, frame("mark-price", inst_id, [row])))
        key = f"open-interest:{inst_id}"
        if key in wanted and self._due(key, ev.ts_ms, OI_PUSH_MS):
            out.append((key, self._open_interest(ev.symbol, inst_id, ev.ts_ms)))
        key = f"funding-rate:{inst_id}"
        if key in wanted and self._due(key, ev.ts_ms, FUNDING_PUSH_MS):
            out.append((key, self._funding(ev.symbol, inst_id, ev.ts_ms)))

    def _depth(self, ev: DepthDiff, inst_id: str, wanted: set[str], out: Rendered) -> None:
        key = f"books:{inst_id}"
        if key not in wanted:
            self.books.forget(key)
            return
        payload = self.books.update(key, inst_id, ev.symbol, ev.ts_ms)
        if payload is not None:
            out.append((key, payload))

    def is_book_diff(self, key: str, data: bytes) -> bool:
        return key.startswith("books:") and b'"action":"update"' in data


def _is_swap(text: str) -> bool:
    """Whether a client message names swaps (or nothing at all: stay with the swap dialect)."""
    return '"instId"' not in text or "-SWAP" in text or '"instType"' in text


class OkxSpotDialect(OkxDialect):
    market_venue = "okx_spot"
    swap = False
    public = frozenset({"tickers", "trades", "books", "index-tickers"})
    business = frozenset({"candle1m", "index-candle1m"})
    wide = frozenset()


def _handler(endpoint: str) -> Callable[[web.Request], Any]:
    """One URL serves both markets: a session starts with the swap dialect, which hands it
    to the spot one on a spot subscription (`OkxDialect.on_message`)."""

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ctx = ctx_of(request)
        dialect = ctx.hub.dialects["okx"]
        options = WsOptions(idle_timeout_s=IDLE_TIMEOUT_S)
        return await serve_ws(request, ctx, dialect, endpoint, options)

    return handle


def ws_routes(prefix: str = "/okx") -> list[web.RouteDef]:
    return [
        web.get(prefix + "/ws/v5/public", _handler("public")),
        web.get(prefix + "/ws/v5/business", _handler("business")),
    ]
