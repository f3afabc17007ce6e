"""Bybit v5 WebSocket parser: `/v5/public/{linear|spot}` frames (publicTrade, tickers, kline,
orderbook.1, allLiquidation) into `exchange.raw` records.

Dispatches on the topic prefix; ticker-delta and level-1 book merging live in `state.py`,
the fast path for trade frames in `fast.py`. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import orjson

from microservices.common.errors import BadMessage
from microservices.common.records import AnyRaw, Side
from microservices.data_collector.exchanges import _records as build
from microservices.data_collector.exchanges.base import (
    PARSE_ERRORS,
    Dropped,
    Exchange,
    TradeDeduper,
    VenueParser,
    check_ohlc,
    epoch_ms,
    price,
    qty,
    text_trade_id,
)
from microservices.data_collector.exchanges.bybit.fast import SIDES as TAKER_SIDES
from microservices.data_collector.exchanges.bybit.fast import BybitFastPath
from microservices.data_collector.exchanges.bybit.state import Head, TickerMerger, TopOfBook

if TYPE_CHECKING:
    from microservices.data_collector.exchanges.bybit.exchange import Bybit

Handler = Callable[[dict[str, Any], str, int], list[AnyRaw]]

# liquidation `S` is the liquidated POSITION's side; the forced order goes the other way
FORCED_ORDER_SIDES: Final[dict[Any, Side]] = {"Buy": "sell", "Sell": "buy"}
# v5 public topic prefixes: the ones a market does not parse are counted "ignored"
KNOWN_TOPICS: Final = frozenset(
    {"orderbook", "publicTrade", "tickers", "kline", "allLiquidation", "liquidation",
     "kline_lt", "tickers_lt", "lt", "insurance", "priceLimit", "adlAlert", "rpi_orderbook"}
)  # fmt: skip


def record_head(exchange: Exchange, symbol: str) -> Head:
    """Header fields of a record about followed `symbol` (its primary instrument)."""
    return exchange.symbol_head(symbol)


def control_reason(msg: dict[str, Any]) -> str:
    """Frames without a topic: subscribe acks and pongs (`success`, `ret_msg`, `op`)."""
    if msg.get("success") is False:
        return "subscribe_failed"
    if "success" in msg or msg.get("op") in ("subscribe", "unsubscribe", "ping", "pong"):
        return "ignored"
    raise BadMessage("frame without topic")


def is_snapshot(msg: dict[str, Any]) -> bool:
    kind: str = msg["type"]
    if kind not in ("snapshot", "delta"):
        raise BadMessage(f"bad frame type {kind!r}")
    return kind == "snapshot"


class BybitParser(BybitFastPath, VenueParser):
    """Parser of one Bybit connection; dispatches on the topic prefix (`publicTrade.BTCUSDT`)."""

    def __init__(self, exchange: Bybit) -> None:
        super().__init__(exchange)
        self._heads: dict[str, Head] = {}  # topic symbol -> record header fields
        self._trade_ids = TradeDeduper()
        self._tickers = TickerMerger(exchange.funding_intervals)
        self._books = TopOfBook()
        table: dict[str, Handler] = {
            "publicTrade": self._trades,
            "kline": self._klines,
            "tickers": self._ticker,
            "orderbook": self._book,
            "allLiquidation": self._liquidations,
            "liquidation": self._liquidations,
        }
        self._handlers = {k: v for k, v in table.items() if k in exchange.parsed_topics}

    def parse(self, frame: str | bytes, recv_ms: int) -> list[AnyRaw]:
        # the textual test only picks who tries first: the fast path checks the frame itself
        if type(frame) is str and frame.startswith('{"topic":"publicTrade.'):
            records = self._fast_trades(frame, recv_ms)  # fast.py
            if records is not None:
                return records
        return self.parse_reference(frame, recv_ms)

    def parse_reference(self, frame: str | bytes, recv_ms: int) -> list[AnyRaw]:
        """The reference parser: every frame the fast path leaves, and all rejections."""
        try:
            msg = orjson.loads(frame)
            topic = msg.get("topic")
            if topic is None:
                raise Dropped(control_reason(msg))
            prefix, _, rest = topic.partition(".")
            handler = self._handlers.get(prefix)
            if handler is None:
                raise Dropped("ignored" if prefix in KNOWN_TOPICS else "unknown_topic")
            return self.stats.emit(handler(msg, rest, recv_ms))
        except Dropped as exc:
            self.stats.reject(exc.reason, frame)
        except PARSE_ERRORS:
            self.stats.reject("malformed", frame)
        return []

    def _head(self, vsym: str) -> Head:
        """Record header for a topic's symbol; Dropped("not_followed"/"unknown_symbol") when
        the symbol is not followed (`Exchange.unfollowed_reason`)."""
        head = self._heads.get(vsym)
        if head is None:
            found = self.exchange.record_head(vsym)
            if found is None:
                raise Dropped(self.exchange.unfollowed_reason(vsym))
            head = self._heads[vsym] = found
        return head

    def _trades(self, msg: dict[str, Any], vsym: str, recv_ms: int) -> list[AnyRaw]:
        head = self._head(vsym)
        trades = [
            build.trade(
                head,
                ts_ms=epoch_ms(t["T"]),
                recv_ms=recv_ms,
                price=price(t["p"]),
                size=qty(t["v"]),
                side=TAKER_SIDES[t["S"]],
                trade_id=text_trade_id(t["i"]),
            )
            for t in msg["data"]
        ]
        seen, symbol = self._trade_ids.seen, head["symbol"]  # ids claimed once all are valid
        out: list[AnyRaw] = [t for t in trades if not seen(symbol, t.trade_id)]
        if len(out) < len(trades):
            self.stats.reject("duplicate", msg["topic"])
        return out

    def _klines(self, msg: dict[str, Any], rest: str, recv_ms: int) -> list[AnyRaw]:
        interval, _, vsym = rest.partition(".")
        if interval != "1":
            raise Dropped("ignored")
        head = self._head(vsym)
        out: list[AnyRaw] = []
        for k in msg["data"]:
            o, h, low, c = price(k["open"]), price(k["high"]), price(k["low"]), price(k["close"])
            check_ohlc(o, h, low, c)
            closed = k["confirm"]
            if type(closed) is not bool:
                raise BadMessage(f"bad confirm flag {closed!r}")
            out.append(
                build.kline(
                    head,
                    ts_ms=epoch_ms(k["timestamp"]),
                    recv_ms=recv_ms,
                    open_time_ms=epoch_ms(k["start"]),
                    interval="1m",
                    open=o,
                    high=h,
                    low=low,
                    close=c,
                    volume=qty(k["volume"]),
                    closed=closed,
                )
            )
        return out

    def _ticker(self, msg: dict[str, Any], vsym: str, recv_ms: int) -> list[AnyRaw]:
        head, ts_ms = self._head(vsym), epoch_ms(msg["ts"])
        result = self._tickers.records(head, ts_ms, recv_ms, is_snapshot(msg), msg["data"])
        if result is None:
            raise Dropped("no_snapshot")
        if result[1]:
            self.stats.reject("crossed_quote", msg["topic"])
        return result[0]

    def _book(self, msg: dict[str, Any], rest: str, recv_ms: int) -> list[AnyRaw]:
        depth, _, vsym = rest.partition(".")
        if depth != "1":
            raise Dropped("ignored")
        head, ts_ms, data = self._head(vsym), epoch_ms(msg["ts"]), msg["data"]
        top = self._books.apply(head["symbol"], is_snapshot(msg), data["b"], data["a"])
        if top is None:
            raise Dropped("no_snapshot")
        bid, ask = top
        if bid is None or ask is None:
            raise Dropped("empty_book")
        if bid[0] > ask[0]:
            raise Dropped("crossed_quote")
        return [
            build.ticker(
                head,
                ts_ms=ts_ms,
                recv_ms=recv_ms,
                bid=bid[0],
                bid_size=bid[1],
                ask=ask[0],
                ask_size=ask[1],
            )
        ]

    def _liquidations(self, msg: dict[str, Any], vsym: str, recv_ms: int) -> list[AnyRaw]:
        """`allLiquidation.S` items {T, s, S, v, p}; the deprecated `liquidation.S` carried one
        object {updatedTime, symbol, side, size, price}."""
        head, data = self._head(vsym), msg["data"]
        if isinstance(data, dict):
            data = [
                {"T": data["updatedTime"], "S": data["side"], "v": data["size"], "p": data["price"]}
            ]
        return [
            build.liquidation(
                head,
                ts_ms=epoch_ms(i["T"]),
                recv_ms=recv_ms,
                price=price(i["p"]),
                size=qty(i["v"]),
                side=FORCED_ORDER_SIDES[i["S"]],
            )
            for i in data
        ]
