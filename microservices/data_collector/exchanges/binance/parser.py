"""Binance WebSocket parsers (spot and USDⓈ-M) on the typed skeleton, and the REST row/object
helpers both venues share.

The wire model and its decoders are in `wire.py`; `TypedParser` (exchanges/typed.py) decodes,
dispatches on the payload's type and counts. Pure: no I/O library and no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

import msgspec
import orjson
from msgspec import UNSET

from microservices.common.errors import BadMessage
from microservices.common.records import AnyRaw, Side
from microservices.common.schema_fields import MIN_TS_MS
from microservices.data_collector.exchanges.base import (
    Dropped,
    Exchange,
)
from microservices.data_collector.exchanges.binance import wire
from microservices.data_collector.exchanges.dedupe import TradeDeduper
from microservices.data_collector.exchanges.typed import (
    U64_MAX,
    Decode,
    Frame,
    Handler,
    TypedParser,
)

R = TypeVar("R")
ORDER_SIDES: dict[str, Side] = {"BUY": "buy", "SELL": "sell"}


def trade_id(value: Any) -> str:
    """Binance trade and aggregate-trade ids are non-negative 64-bit JSON integers."""
    if type(value) is not int or not 0 <= value <= U64_MAX:
        raise BadMessage(f"bad trade id {value!r}")
    return str(value)


def untyped_reason(data: dict[str, Any]) -> str:
    """Why a payload without `e` was rejected: a bookTicker that did not decode, a subscribe
    answer or depth snapshot (ignored), a venue error, or something unknown."""
    if "b" in data and "u" in data:
        return "malformed"
    if "result" in data or "lastUpdateId" in data:
        return "ignored"
    if "code" in data and "msg" in data:
        return "venue_error"
    return "unknown_event"


class BinanceParser(TypedParser):
    """Parser of one Binance spot connection: aggTrade, trade, bookTicker (without `e` on
    spot) and kline payloads, wrapped in combined-stream frames or raw."""

    # known events this collector does not use: counted as "ignored"
    ignored_events: ClassVar[frozenset[str]] = frozenset(
        {"depthUpdate", "24hrTicker", "24hrMiniTicker", "1hTicker", "4hTicker", "1dTicker",
         "avgPrice", "serverShutdown"}
    )  # fmt: skip
    # spot bookTicker has no event time: ts_ms falls back to recv_ms; USDⓈ-M requires `E`
    book_ticker_requires_event_time: ClassVar[bool] = False

    def __init__(self, exchange: Exchange) -> None:
        super().__init__(exchange)
        self._agg_ids = TradeDeduper()
        self._trade_ids = TradeDeduper()  # `t` ids are a different sequence from aggTrade `a`
        # event types the handlers take: a payload of one that did not decode is malformed
        self._events = frozenset(model.__struct_config__.tag for model in self._handlers)

    def decoder(self) -> Decode:
        return wire.decode_spot

    def handlers(self) -> Mapping[type[msgspec.Struct], Handler]:
        return {
            wire.AggTrade: self._agg_trade,
            wire.TradeEvent: self._trade,
            wire.BookTicker: self._book_ticker,
            wire.UntypedBookTicker: self._book_ticker,
            wire.KlineEvent: self._kline,
        }

    def classify(self, frame: Frame) -> str:
        try:
            msg = orjson.loads(frame)
        except orjson.JSONDecodeError:
            return "malformed"
        data = msg.get("data", msg) if isinstance(msg, dict) else None
        if not isinstance(data, dict):
            return "malformed"
        event = data.get("e")
        if event is None:
            return untyped_reason(data)
        if isinstance(event, list | dict):
            return "malformed"
        if event in self._events:
            return self.event_reason(data)
        return "ignored" if event in self.ignored_events else "unknown_event"

    def event_reason(self, data: dict[str, Any]) -> str:
        """Why a payload of a handled event type did not decode."""
        return "malformed"

    # ----------------------------------------------------------------------- handlers
    def _agg_trade(self, d: wire.AggTrade, recv_ms: int) -> list[AnyRaw]:
        head = self._heads.get(d.s) or self._head(d.s)
        tid, maker = d.a, d.m
        if type(tid) is not int or not 0 <= tid <= U64_MAX or type(maker) is not bool:
            raise BadMessage(f"bad aggregate trade id {tid!r} or maker flag {maker!r}")
        text_id = str(tid)
        if self._agg_ids.seen(head["symbol"], text_id):  # claimed once the trade is valid
            raise Dropped("duplicate")
        return [
            self.build.trade(head, ts_ms=d.T, recv_ms=recv_ms, price=d.p, size=d.q,
                        side="sell" if maker else "buy", trade_id=text_id)
        ]  # fmt: skip

    def _trade(self, d: wire.TradeEvent, recv_ms: int) -> list[AnyRaw]:
        head = self._heads.get(d.s) or self._head(d.s)
        text_id, maker = trade_id(d.t), d.m
        if type(maker) is not bool:
            raise BadMessage(f"bad maker flag {maker!r}")
        if self._trade_ids.seen(head["symbol"], text_id):
            raise Dropped("duplicate")
        return [
            self.build.trade(head, ts_ms=d.T, recv_ms=recv_ms, price=d.p, size=d.q,
                        side="sell" if maker else "buy", trade_id=text_id)
        ]  # fmt: skip

    def _book_ticker(
        self, d: wire.BookTicker | wire.UntypedBookTicker, recv_ms: int
    ) -> list[AnyRaw]:
        head = self._heads.get(d.s) or self._head(d.s)
        bid, ask, ts_ms = d.b, d.a, d.E
        if bid > ask:
            raise BadMessage(f"crossed quote {bid!r}/{ask!r}")
        if ts_ms is UNSET:
            if self.book_ticker_requires_event_time:
                raise BadMessage("bookTicker without event time")
            ts_ms = recv_ms
        return [
            self.build.ticker(head, ts_ms=ts_ms, recv_ms=recv_ms, bid=bid, bid_size=d.B, ask=ask,
                         ask_size=d.A)
        ]  # fmt: skip

    def _kline(self, d: wire.KlineEvent, recv_ms: int) -> list[AnyRaw]:
        head = self._heads.get(d.s) or self._head(d.s)
        bar = d.k
        o, h, low, c, closed = bar.o, bar.h, bar.low, bar.c, bar.x
        if not (low <= o <= h and low <= c <= h) or type(closed) is not bool:
            raise BadMessage(f"bad candle o={o} h={h} l={low} c={c} x={closed!r}")
        return [
            self.build.kline(head, ts_ms=d.E, recv_ms=recv_ms, open_time_ms=bar.t, interval=bar.i,
                        open=o, high=h, low=low, close=c, volume=bar.v, closed=closed)
        ]  # fmt: skip


class BinanceFuturesParser(BinanceParser):
    """Spot's payloads plus markPriceUpdate -> Funding and forceOrder -> Liquidation; @trade
    keeps market fills only, and bookTicker needs its event time."""

    ignored_events = BinanceParser.ignored_events | {
        "contractInfo",
        "assetIndexUpdate",
        "compositeIndex",
        "continuous_kline",
    }
    book_ticker_requires_event_time = True

    def decoder(self) -> Decode:
        return wire.decode_futures

    def handlers(self) -> Mapping[type[msgspec.Struct], Handler]:
        return {
            **super().handlers(),
            wire.MarkPrice: self._mark_price,
            wire.ForceOrder: self._force_order,
        }

    def event_reason(self, data: dict[str, Any]) -> str:
        """Fills that are not market trades and delivery contracts' mark prices are ignored
        whatever else the payload holds."""
        event, status = data["e"], data.get("X")
        if event == "trade" and status is not None and status != "MARKET":
            return "ignored"
        if event == "markPriceUpdate" and data.get("r") == "":
            return "ignored"
        return "malformed"

    def _trade(self, d: wire.TradeEvent, recv_ms: int) -> list[AnyRaw]:
        # @trade also carries insurance-fund and ADL fills (X != "MARKET"): not market trades
        if d.X is not None and d.X != "MARKET":
            raise Dropped("ignored")
        return super()._trade(d, recv_ms)

    def _mark_price(self, d: wire.MarkPrice, recv_ms: int) -> list[AnyRaw]:
        funding_rate, next_ms, index = d.r, d.T, d.i
        if funding_rate == "":  # delivery contracts have no funding
            raise Dropped("ignored")
        head = self._heads.get(d.s) or self._head(d.s)
        if 0 < next_ms < MIN_TS_MS:
            raise BadMessage(f"bad next funding time {next_ms!r}")
        return [
            self.build.funding(head, ts_ms=d.E, recv_ms=recv_ms, funding_rate=funding_rate,
                          funding_interval_h=self.exchange.funding_interval_h(head["symbol"]),
                          next_funding_time_ms=next_ms or None, mark_price=d.p,
                          index_price=index or None)
        ]  # fmt: skip

    def _force_order(self, d: wire.ForceOrder, recv_ms: int) -> list[AnyRaw]:
        order = d.o
        head = self._heads.get(order.s) or self._head(order.s)
        # the average fill price and filled quantity once filled, else the order's own
        return [
            self.build.liquidation(head, ts_ms=order.T, recv_ms=recv_ms,
                              price=order.ap or order.p, size=order.z or order.q,
                              side=ORDER_SIDES[order.S])
        ]  # fmt: skip
