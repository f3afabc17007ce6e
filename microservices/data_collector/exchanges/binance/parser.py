"""Binance wire parsing shared by spot and USDⓈ-M futures: the WS parser for combined-stream
aggTrade/trade/bookTicker/kline frames, and the REST row/object helpers.

Pure: imports only `exchanges.base`, `fast.py`, `common` records/errors, orjson and msgspec;
no I/O library (aiohttp, websockets, redis) and no clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar, Final, TypeVar

import orjson

from microservices.common.errors import BadMessage
from microservices.common.records import AnyRaw, Kline, Side, Ticker, Trade
from microservices.data_collector.exchanges.base import (
    PARSE_ERRORS,
    Dropped,
    Exchange,
    TradeDeduper,
    VenueParser,
    epoch_ms,
)
from microservices.data_collector.exchanges.binance.fast import (
    KLINE_INTERVALS,
    BinanceFastPath,
    Known,
)

R = TypeVar("R")
INF: Final = math.inf
Handler = Callable[[dict[str, Any], int], list[AnyRaw]]


def taker_side(buyer_is_maker: Any) -> Side:
    """Binance `m` (buyer is the maker) -> taker side: m=true means the taker sold."""
    if buyer_is_maker is True:
        return "sell"
    if buyer_is_maker is False:
        return "buy"
    raise BadMessage(f"bad maker flag {buyer_is_maker!r}")


def trade_id(value: Any) -> str:
    """Binance trade and aggregate-trade ids are non-negative JSON integers."""
    if type(value) is not int or value < 0:
        raise BadMessage(f"bad trade id {value!r}")
    return str(value)


class BinanceParser(BinanceFastPath, VenueParser):
    """Parser of one Binance spot connection; the futures parser extends its handler table.

    Frames are `{"stream", "data"}` wrappers (combined streams) or raw payloads. The handler is
    picked by the payload's event type `e`; spot `bookTicker` payloads carry no `e` and are
    recognised by their `u`/`b` fields.
    """

    # known events this collector does not use: dropped and counted as "ignored"
    ignored_events: ClassVar[frozenset[str]] = frozenset(
        {"depthUpdate", "24hrTicker", "24hrMiniTicker", "1hTicker", "4hTicker", "1dTicker",
         "avgPrice", "serverShutdown"}
    )  # fmt: skip
    # spot bookTicker has no event time: ts_ms falls back to recv_ms; futures requires `E`
    book_ticker_requires_event_time: ClassVar[bool] = False

    def __init__(self, exchange: Exchange) -> None:
        super().__init__(exchange)
        self._venue = exchange.name
        self._market = exchange.market
        # venue symbol as received -> (canonical, venue spelling); only known symbols enter
        self._known: dict[str, Known] = {}
        self._agg_ids = TradeDeduper()
        self._trade_ids = TradeDeduper()  # `t` ids are a different sequence from aggTrade `a`
        self._handlers: dict[Any, Handler] = self._build_handlers()
        self._fallback: Handler = self._other_event  # bound once, not per frame

    def _build_handlers(self) -> dict[Any, Handler]:
        return {
            "aggTrade": self._agg_trade,
            "bookTicker": self._book_ticker,
            "kline": self._kline,
            "trade": self._trade,
            None: self._untyped,
        }

    def parse(self, frame: str | bytes, recv_ms: int) -> list[AnyRaw]:
        records = self._fast(frame, recv_ms)  # the plainly valid common frames (fast.py)
        if records is not None:
            return records
        return self.parse_reference(frame, recv_ms)

    def parse_reference(self, frame: str | bytes, recv_ms: int) -> list[AnyRaw]:
        """The reference parser: every frame the fast path leaves, and all rejections."""
        try:
            msg = orjson.loads(frame)
            data = msg.get("data", msg)  # combined-stream wrapper or raw payload
            handler = self._handlers.get(data.get("e"), self._fallback)
            return self.stats.emit(handler(data, recv_ms))
        except Dropped as exc:
            self.stats.reject(exc.reason, frame)
        except PARSE_ERRORS:
            self.stats.reject("malformed", frame)
        return []

    # ------------------------------------------------------------------ shared pieces
    def _symbol(self, vsym: Any) -> Known:
        """(canonical, venue spelling, group, quote) of a payload's symbol; Dropped
        ("not_followed" or "unknown_symbol") when it is not followed."""
        known = self._known.get(vsym)
        if known is not None:
            return known
        head = self.exchange.record_head(vsym)
        if head is None:
            raise Dropped(self.exchange.unfollowed_reason(vsym))
        known = (head["symbol"], head["venue_symbol"], head["group"], head["quote"])
        if vsym == known[1]:  # cache exact spellings only, so the cache stays small
            self._known[vsym] = known
        return known

    def _other_event(self, data: dict[str, Any], recv_ms: int) -> list[AnyRaw]:
        raise Dropped("ignored" if data["e"] in self.ignored_events else "unknown_event")

    def _untyped(self, data: dict[str, Any], recv_ms: int) -> list[AnyRaw]:
        """Payloads without `e`: spot bookTicker, subscribe acks, partial books, errors."""
        if "b" in data and "u" in data:
            return self._book_ticker(data, recv_ms)
        if "result" in data or "lastUpdateId" in data:
            raise Dropped("ignored")
        if "code" in data and "msg" in data:
            raise Dropped("venue_error")
        raise Dropped("unknown_event")

    # ----------------------------------------------------------------------- handlers
    def _agg_trade(self, data: dict[str, Any], recv_ms: int) -> list[AnyRaw]:
        return self._trade_record(data, data["a"], self._agg_ids, recv_ms)

    def _trade(self, data: dict[str, Any], recv_ms: int) -> list[AnyRaw]:
        return self._trade_record(data, data["t"], self._trade_ids, recv_ms)

    def _trade_record(
        self, data: dict[str, Any], raw_id: Any, ids: TradeDeduper, recv_ms: int
    ) -> list[AnyRaw]:
        symbol, vsym, group, quote = self._symbol(data["s"])
        px = float(data["p"])
        size = float(data["q"])
        if not (0.0 < px < INF and 0.0 <= size < INF):  # price() and qty(), inlined
            raise BadMessage(f"bad trade price {px!r} or size {size!r}")
        record = Trade(
            exchange=self._venue,
            market=self._market,
            symbol=symbol,
            venue_symbol=vsym,
            group=group,
            quote=quote,
            ts_ms=epoch_ms(data["T"]),
            recv_ms=recv_ms,
            price=px,
            size=size,
            side=taker_side(data["m"]),
            trade_id=trade_id(raw_id),
        )
        # only a valid trade claims its id, so a garbled copy cannot shadow the real one
        if ids.seen(symbol, record.trade_id):
            raise Dropped("duplicate")
        return [record]

    def _book_ticker(self, data: dict[str, Any], recv_ms: int) -> list[AnyRaw]:
        symbol, vsym, group, quote = self._symbol(data["s"])
        bid, bid_size = float(data["b"]), float(data["B"])
        ask, ask_size = float(data["a"]), float(data["A"])
        # price(), qty() and check_quote() in one comparison chain (NaN fails every test)
        if not (0.0 < bid <= ask < INF and 0.0 <= bid_size < INF and 0.0 <= ask_size < INF):
            raise BadMessage(
                f"bad or crossed quote {bid!r}/{ask!r} sizes {bid_size!r}/{ask_size!r}"
            )
        event_ms = data.get("E")
        if event_ms is None and not self.book_ticker_requires_event_time:
            ts_ms = recv_ms
        else:
            ts_ms = epoch_ms(event_ms)
        return [
            Ticker(
                exchange=self._venue,
                market=self._market,
                symbol=symbol,
                venue_symbol=vsym,
                group=group,
                quote=quote,
                ts_ms=ts_ms,
                recv_ms=recv_ms,
                bid=bid,
                bid_size=bid_size,
                ask=ask,
                ask_size=ask_size,
            )
        ]

    def _kline(self, data: dict[str, Any], recv_ms: int) -> list[AnyRaw]:
        symbol, vsym, group, quote = self._symbol(data["s"])
        bar = data["k"]
        o, h, low, c = float(bar["o"]), float(bar["h"]), float(bar["l"]), float(bar["c"])
        volume = float(bar["v"])
        # price(), qty() and check_ohlc() in one comparison chain (NaN fails every test)
        if not (0.0 < low <= o <= h < INF and low <= c <= h and 0.0 <= volume < INF):
            raise BadMessage(f"bad candle o={o} h={h} l={low} c={c} v={volume}")
        interval = bar["i"]
        closed = bar["x"]
        if interval not in KLINE_INTERVALS or type(closed) is not bool:
            raise BadMessage(f"bad kline interval {interval!r} or closed flag {closed!r}")
        return [
            Kline(
                exchange=self._venue,
                market=self._market,
                symbol=symbol,
                venue_symbol=vsym,
                group=group,
                quote=quote,
                ts_ms=epoch_ms(data["E"]),
                recv_ms=recv_ms,
                open_time_ms=epoch_ms(bar["t"]),
                interval=interval,
                open=o,
                high=h,
                low=low,
                close=c,
                volume=volume,
                closed=closed,
            )
        ]


def parse_rows(payload: Any, parse_row: Callable[[Any], R | None]) -> list[R]:
    """Apply `parse_row` to each element of a JSON array, skipping rows that fail or give None.

    Raises BadMessage only when the payload itself is not an array.
    """
    if not isinstance(payload, list):
        raise BadMessage(f"expected a JSON array, got {type(payload).__name__}")
    out: list[R] = []
    for row in payload:
        try:
            item = parse_row(row)
        except PARSE_ERRORS:
            continue
        if item is not None:
            out.append(item)
    return out


def parse_object(payload: Any, parse_obj: Callable[[dict[str, Any]], R]) -> R:
    """Apply `parse_obj` to a JSON object; any failure becomes BadMessage."""
    if not isinstance(payload, dict):
        raise BadMessage(f"expected a JSON object, got {type(payload).__name__}")
    try:
        return parse_obj(payload)
    except PARSE_ERRORS as exc:
        raise BadMessage(f"bad object: {exc!r}"[:300]) from exc
