"""Gate.io v4 WebSocket dialects: spot at `/gateio` and USDT futures at `/gateio_futures`.

Channels `<prefix>.trades`, `.book_ticker`, `.candlesticks` (payload `["1m", pair]`),
`.order_book_update` (payload `[pair, "100ms"]`: `U`/`u` deltas of the L2 ladder, whose REST
snapshot is in `rest.py`) and, on futures, `.tickers` (funding, mark, index, open interest).
Acks, error events and `<prefix>.ping` -> `<prefix>.pong` as Gate documents them. Futures
sizes are whole contracts of `quanto_multiplier` = the instrument's quantity step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Final

from aiohttp import web

from microservices.exchange_simulator.events import BarUpdate, DepthDiff, Event, Mark, Quote, Trade
from microservices.exchange_simulator.market import MarketModel
from microservices.exchange_simulator.naming import SIM_QUOTE, sim_base
from microservices.exchange_simulator.runtime import ctx_of
from microservices.exchange_simulator.session import Item, WsSession
from microservices.exchange_simulator.stats import PONG_KEY
from microservices.exchange_simulator.venues.base import (
    Dialect,
    Rendered,
    WsOptions,
    fmt,
    parse_json,
    serve_ws,
)

BOOK: Final = "order_book_update"
BOOK_INTERVALS: Final = frozenset({"20ms", "100ms", "1000ms"})
# Gate's error codes: 1 invalid request body, 2 invalid argument
BAD_REQUEST: Final = 1
BAD_ARGUMENT: Final = 2


class GateSpotDialect(Dialect):
    """Spot frames; the futures dialect changes the prefix, sizes and channels."""

    url_venue = "gateio"
    market_venue = "gateio"
    prefix: ClassVar[str] = "spot"
    list_channels: ClassVar[frozenset[str]] = frozenset({"trades", "book_ticker"})

    def __init__(self, market: MarketModel) -> None:
        super().__init__(market)
        self.venue_syms = {s: f"{sim_base(s)}_{SIM_QUOTE}" for s in market.instruments}
        self.by_venue_symbol = {v: s for s, v in self.venue_syms.items()}

    # ---------------------------------------------------------------- numbers
    def price(self, symbol: str, value: float) -> str:
        return fmt(value, self.market.instruments[symbol].price_dp)

    def size(self, symbol: str, qty: float) -> Any:
        """A size as the venue writes it: spot a decimal string (base units)."""
        return fmt(qty, self.market.instruments[symbol].qty_dp)

    # ---------------------------------------------------------------- messages
    def key_symbol(self, key: str) -> str | None:
        return self.by_venue_symbol.get(key.rpartition(".")[2])

    def now(self) -> dict[str, int]:
        ms = self.market.now_ms
        return {"time": ms // 1000, "time_ms": ms}

    def on_message(self, session: WsSession, text: str) -> None:
        msg = parse_json(text)
        if not isinstance(msg, dict) or not isinstance(msg.get("channel"), str):
            error = {"code": BAD_REQUEST, "message": "invalid request body"}
            session.send_control({**self.now(), "channel": "", "event": "", "error": error})
            return
        channel, event = msg["channel"], msg.get("event")
        if channel == f"{self.prefix}.ping":
            reply = {**self.now(), "channel": f"{self.prefix}.pong", "event": "", "result": None}
            session.send_control(reply, PONG_KEY)
        elif event in ("subscribe", "unsubscribe"):
            self._subscription(session, channel, event, msg.get("payload"))
        else:
            error = {"code": BAD_REQUEST, "message": f"unknown event {event!r}"}
            session.send_control({**self.now(), "channel": channel, "event": event, "error": error})

    def subscription_keys(self, channel: str, payload: Any) -> list[str] | str:
        """The stream keys a request names, or why it is refused."""
        name = channel.removeprefix(f"{self.prefix}.")
        if not isinstance(payload, list) or not all(isinstance(p, str) for p in payload):
            return "payload must be a list of strings"
        if channel == name or not payload:
            return f"unknown channel {channel}"
        if name in self.list_channels:
            pairs = payload
        elif name == "candlesticks" and len(payload) == 2 and payload[0] == "1m":
            pairs = payload[1:]
        elif name == BOOK and len(payload) >= 2 and payload[1] in BOOK_INTERVALS:
            pairs = payload[:1]
        else:
            return f"unknown channel {channel} or bad payload {payload}"
        unknown = [p for p in pairs if p not in self.by_venue_symbol]
        if unknown:
            return f"unknown currency pair: {unknown[0]}"
        return [f"{channel}.{p}" for p in pairs]

    def _subscription(self, session: WsSession, channel: str, event: str, payload: Any) -> None:
        keys = self.subscription_keys(channel, payload)
        head = {**self.now(), "channel": channel, "event": event, "payload": payload}
        if isinstance(keys, str):
            error = {"code": BAD_ARGUMENT, "message": keys}
            session.send_control({**head, "error": error, "result": {"status": "fail"}})
            return
        session.send_control({**head, "result": {"status": "success"}})
        if event == "subscribe":
            session.subscribe(keys)
        else:
            session.unsubscribe(keys)

    def replay_key(self, obj: Any) -> str | None:
        if not isinstance(obj, dict) or not isinstance(obj.get("channel"), str):
            return None
        result = obj.get("result")
        item = result[0] if isinstance(result, list) and result else result
        if isinstance(item, dict):
            for field in ("currency_pair", "contract", "s"):
                if isinstance(item.get(field), str):
                    return f"{obj['channel']}.{item[field]}"
            name = item.get("n")
            if isinstance(name, str):
                return f"{obj['channel']}.{name.partition('_')[2]}"
        return str(obj["channel"])

    def is_control(self, obj: Any) -> bool:
        return isinstance(obj, dict) and obj.get("event") != "update"

    def is_book_diff(self, key: str, data: bytes) -> bool:
        return f".{BOOK}." in key

    def initial_frames(self, keys: Iterable[str]) -> list[Item]:
        """No frame, but a book subscription brings the pair's L2 ladder to life."""
        for key in keys:
            symbol = self.key_symbol(key)
            if symbol is not None and f".{BOOK}." in key:
                self.market.depth(self.market_venue, symbol)
        return []

    # ---------------------------------------------------------------- frames
    def render(self, events: list[Event], wanted: set[str]) -> Rendered:
        out: Rendered = []
        builders: dict[type, Callable[[Any], tuple[str, Any] | None]] = {
            Trade: self.trade, Quote: self.book_ticker, BarUpdate: self.candle,
            DepthDiff: self.depth, Mark: self.tickers,
        }  # fmt: skip
        for event in events:
            channel = self.channel_of(event)
            if channel is None or f"{channel}.{self.venue_syms[event.symbol]}" not in wanted:
                continue
            built = builders[type(event)](event)
            if built is not None:
                out.append(built)
        return out

    def channel_of(self, event: Event) -> str | None:
        names = {Trade: "trades", Quote: "book_ticker", BarUpdate: "candlesticks",
                 DepthDiff: BOOK, Mark: "tickers"}  # fmt: skip
        name = names.get(type(event))
        return None if name is None else f"{self.prefix}.{name}"

    def frame(self, channel: str, sym: str, ts_ms: int, result: Any) -> tuple[str, Any]:
        body = {"time": ts_ms // 1000, "time_ms": ts_ms, "channel": channel, "event": "update",
                "result": result}  # fmt: skip
        return f"{channel}.{sym}", body

    def trade(self, ev: Trade) -> tuple[str, Any] | None:
        sym = self.venue_syms[ev.symbol]
        result = {"id": ev.trade_id, "create_time": ev.ts_ms // 1000,
                  "create_time_ms": f"{ev.ts_ms}.000", "side": "buy" if ev.taker_buy else "sell",
                  "currency_pair": sym, "amount": self.size(ev.symbol, ev.qty),
                  "price": self.price(ev.symbol, ev.price)}  # fmt: skip
        return self.frame("spot.trades", sym, ev.ts_ms, result)

    def book_ticker(self, ev: Quote) -> tuple[str, Any] | None:
        sym, s = self.venue_syms[ev.symbol], ev.symbol
        result = {"t": ev.ts_ms, "u": ev.update_id, "s": sym, "b": self.price(s, ev.bid),
                  "B": self.size(s, ev.bid_qty), "a": self.price(s, ev.ask),
                  "A": self.size(s, ev.ask_qty)}  # fmt: skip
        return self.frame(f"{self.prefix}.book_ticker", sym, ev.ts_ms, result)

    def candle_row(self, ev: BarUpdate) -> dict[str, Any]:
        bar, s = ev.bar, ev.symbol
        return {"t": bar.open_ms // 1000, "v": self.candle_volume(s, bar.volume, bar.quote_volume),
                "c": self.price(s, bar.close), "h": self.price(s, bar.high),
                "l": self.price(s, bar.low), "o": self.price(s, bar.open),
                "n": f"1m_{self.venue_syms[s]}", "a": fmt(bar.volume, 8),
                "w": ev.closed}  # fmt: skip

    def candle_volume(self, symbol: str, volume: float, quote_volume: float) -> Any:
        return fmt(quote_volume, 8)  # spot: `v` is the quote volume

    def candle(self, ev: BarUpdate) -> tuple[str, Any] | None:
        row = self.candle_row(ev)
        row["t"] = str(row["t"])  # spot writes the open time as a string
        return self.frame("spot.candlesticks", self.venue_syms[ev.symbol], ev.ts_ms, row)

    def tickers(self, ev: Mark) -> tuple[str, Any] | None:
        return None  # spot tickers carry no sizes: not served here

    def depth(self, ev: DepthDiff) -> tuple[str, Any] | None:
        self.market.depth(self.market_venue, ev.symbol)  # in use: keep it live
        sym = self.venue_syms[ev.symbol]
        result = {"t": ev.ts_ms, "e": "depthUpdate", "E": ev.ts_ms // 1000, "s": sym,
                  "U": ev.first_id, "u": ev.last_id, "b": self.levels(ev.symbol, ev.bids),
                  "a": self.levels(ev.symbol, ev.asks)}  # fmt: skip
        return self.frame(f"{self.prefix}.{BOOK}", sym, ev.ts_ms, result)

    def levels(self, symbol: str, rows: Iterable[tuple[float, float]]) -> list[Any]:
        return [[self.price(symbol, p), self.size(symbol, q)] for p, q in rows]


class GateFuturesDialect(GateSpotDialect):
    """USDT perpetuals: contracts (signed trade sizes), object levels, tickers."""

    url_venue = "gateio_futures"
    market_venue = "gateio_futures"
    prefix = "futures"
    list_channels = frozenset({"trades", "book_ticker", "tickers"})

    def multiplier(self, symbol: str) -> float:
        """`quanto_multiplier`: base units per contract (the instrument's quantity step)."""
        return self.market.instruments[symbol].step

    def contracts(self, symbol: str, qty: float) -> int:
        return round(qty / self.multiplier(symbol))

    def size(self, symbol: str, qty: float) -> Any:
        return self.contracts(symbol, qty)

    def candle_volume(self, symbol: str, volume: float, quote_volume: float) -> Any:
        return self.contracts(symbol, volume)

    def trade(self, ev: Trade) -> tuple[str, Any] | None:
        sym, size = self.venue_syms[ev.symbol], max(1, self.contracts(ev.symbol, ev.qty))
        row = {"size": size if ev.taker_buy else -size, "id": ev.trade_id,
               "create_time": ev.ts_ms // 1000, "create_time_ms": ev.ts_ms,
               "price": self.price(ev.symbol, ev.price), "contract": sym}  # fmt: skip
        return self.frame("futures.trades", sym, ev.ts_ms, [row])

    def candle(self, ev: BarUpdate) -> tuple[str, Any] | None:
        return self.frame("futures.candlesticks", self.venue_syms[ev.symbol], ev.ts_ms,
                          [self.candle_row(ev)])  # fmt: skip

    def tickers(self, ev: Mark) -> tuple[str, Any] | None:
        s, sym = ev.symbol, self.venue_syms[ev.symbol]
        book = self.market.book(self.market_venue, s)
        row = {"contract": sym, "last": self.price(s, book.last_price),
               "funding_rate": f"{ev.funding_rate:.6f}", "mark_price": self.price(s, ev.mark),
               "index_price": self.price(s, ev.index_price),
               "total_size": str(self.contracts(s, ev.open_interest)),
               "volume_24h_quote": fmt(book.turnover_24h, 2),
               "funding_rate_indicative": f"{ev.funding_rate:.6f}"}  # fmt: skip
        return self.frame("futures.tickers", sym, ev.ts_ms, [row])

    def levels(self, symbol: str, rows: Iterable[tuple[float, float]]) -> list[Any]:
        return [{"p": self.price(symbol, p), "s": self.contracts(symbol, q)} for p, q in rows]


def _handler(market_venue: str) -> Callable[[web.Request], Any]:
    async def handle(request: web.Request) -> web.WebSocketResponse:
        ctx = ctx_of(request)
        dialect = ctx.hub.dialects[market_venue]
        return await serve_ws(request, ctx, dialect, "", WsOptions())

    return handle


def ws_route(url_venue: str) -> web.RouteDef:
    """The venue's WebSocket endpoint: its prefix itself (`/gateio`, `/gateio_futures`)."""
    return web.get(f"/{url_venue}", _handler(url_venue))
