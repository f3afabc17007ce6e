"""The throw-away venue: symbols `BTC_USDT` (its naming rule: BASE_QUOTE; no listing
endpoint), one WebSocket path `/feed` taking `{"op":"subscribe","symbols":[...]}`, trade frames
`{"type":"trade","symbol","price","size","buy","id","ts"}`, and REST 1m klines at `/candles`
(rows `[open_time_ms, o, h, l, c, v]`)."""

from __future__ import annotations

from typing import Any

import orjson

from microservices.common.instruments import Instrument, make_instrument
from microservices.common.records import AnyRaw, Kline, Trade
from microservices.data_collector.exchanges.base import (
    PARSE_ERRORS,
    Exchange,
    RestRequest,
    VenueParser,
    WsConnectionPlan,
    epoch_ms,
    price,
    qty,
    text_trade_id,
)


class ThrowawayParser(VenueParser):
    def parse(self, frame: str | bytes, recv_ms: int) -> list[AnyRaw]:
        try:
            msg = orjson.loads(frame)
        except orjson.JSONDecodeError:
            self.stats.reject("malformed", frame)
            return []
        if not isinstance(msg, dict) or msg.get("type") != "trade":
            self.stats.reject("ignored", frame)
            return []
        try:
            head = self.exchange.record_head(msg["symbol"])  # the symbol seam
            if head is None:
                self.stats.reject(self.exchange.unfollowed_reason(msg["symbol"]), frame)
                return []
            record = Trade(
                **head, ts_ms=epoch_ms(msg["ts"]), recv_ms=recv_ms,
                price=price(msg["price"]), size=qty(msg["size"]),
                side="buy" if msg["buy"] is True else "sell", trade_id=text_trade_id(msg["id"]),
            )  # fmt: skip
        except PARSE_ERRORS:
            self.stats.reject("malformed", frame)
            return []
        return self.stats.emit([record])


class Throwaway(Exchange):
    name = "throwaway"
    market = "spot"
    symbol_format = "{base}_{quote}"  # how it spells BASE/QUOTE (to name followed symbols)
    quote_order = ("USDT",)
    rule_quotes = frozenset({"USDT"})

    def symbol_instrument(self, venue_symbol: str) -> Instrument | None:
        """The naming rule: `ETH_USDT` is ETH/USDT spot; nothing else is a symbol."""
        base, sep, quote = venue_symbol.upper().partition("_")
        if not sep or quote != "USDT" or not base.isalnum():
            return None
        return make_instrument(
            venue=self.name, venue_symbol=venue_symbol, base=base, quote=quote, market="spot"
        )

    def ws_connections(self) -> list[WsConnectionPlan]:
        names = [self.to_venue(s) for s in self.symbols]
        subscribe = orjson.dumps({"op": "subscribe", "symbols": names}).decode()
        return [
            WsConnectionPlan(f"{self.name}#0", f"{self.ws_url}/feed", (subscribe,), self.symbols)
        ]

    def new_parser(self) -> VenueParser:
        return ThrowawayParser(self)

    def klines_request(self, symbol: str, start_ms: int, end_ms: int) -> RestRequest:
        params = {"symbol": self.to_venue(symbol), "start": str(start_ms), "end": str(end_ms)}
        return RestRequest("/candles", params)

    def parse_klines(self, symbol: str, payload: Any, recv_ms: int) -> list[Kline]:
        head = self.symbol_head(symbol)
        out = []
        for open_ms, o, h, low, c, volume in payload:
            out.append(
                Kline(
                    **head,
                    ts_ms=open_ms,
                    recv_ms=recv_ms,
                    open_time_ms=open_ms,
                    interval="1m",
                    open=o,
                    high=h,
                    low=low,
                    close=c,
                    volume=volume,
                    closed=True,
                )
            )
        return out
