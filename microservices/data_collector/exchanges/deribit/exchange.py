"""Deribit API v2 public market data: perpetuals and futures (`deribit`), inverse
(BTC-PERPETUAL, 10 USD contracts) and USDC-margined linear (BTC_USDC-PERPETUAL).

Owns the venue: JSON-RPC over one WebSocket (`public/set_heartbeat`, `public/subscribe` of
the public 100 ms channels; `.raw` needs auth), `public/test` answers to `test_request`,
resubscription of a book, `/api/v2/public/*` REST (chart data, funding history, ticker) and
the JSON-RPC error envelope. The parser is in `parser.py`. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Final, TypeVar

import msgspec
import orjson

from microservices.common.errors import BadMessage
from microservices.common.records import (
    AnyRaw,
    Funding,
    Kline,
    Market,
    OpenInterest,
    OptionsSummary,
)
from microservices.data_collector.exchanges.base import (
    PARSE_ERRORS,
    Exchange,
    RestRequest,
    VenueParser,
    WsConnectionPlan,
    epoch_ms,
    minute_bar,
    price,
    rate,
)
from microservices.data_collector.exchanges.deribit.dvol import dvol_channels
from microservices.data_collector.exchanges.deribit.listing import DeribitListing
from microservices.data_collector.exchanges.deribit.options import (
    CURRENCIES,
    fold_chain,
    summary_record,
    summary_request,
)
from microservices.data_collector.exchanges.deribit.parser import DeribitParser
from microservices.data_collector.exchanges.deribit.state import Contract, TickerThrottle
from microservices.data_collector.exchanges.deribit.wire import (
    BOOK_ID,
    DVOL_ID,
    HEARTBEAT_ID,
    SUBSCRIBE_ID,
    TEST_ID,
    TickerData,
)
from microservices.data_collector.exchanges.rest_rows import parse_rows

R = TypeVar("R")
API: Final = "/api/v2/public"
WS_PATH: Final = "/ws/api/v2"  # the JSON-RPC WebSocket
HEARTBEAT_S: Final = 30  # public/set_heartbeat interval (Deribit's minimum is 10 s)


def rpc(method: str, params: dict[str, Any], request_id: int) -> str:
    """One JSON-RPC 2.0 request frame."""
    body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
    return orjson.dumps(body).decode()


def result_of(payload: Any) -> Any:
    """`result` of a JSON-RPC answer; BadMessage for an `error` or a missing result."""
    if not isinstance(payload, dict):
        raise BadMessage("deribit: answer is not an object")
    error = payload.get("error")
    if error is not None:
        code = error.get("code") if isinstance(error, dict) else error
        message = error.get("message") if isinstance(error, dict) else ""
        raise BadMessage(f"deribit error {code!r}: {str(message)[:200]}")
    if "result" not in payload:
        raise BadMessage("deribit: answer has no result")
    return payload["result"]


def rows_of(rows: Any, parse_row: Callable[[Any], R]) -> list[R]:
    """`parse_row` over a list, skipping bad rows (BadMessage when it is not a list)."""
    return parse_rows(rows, parse_row, "deribit result")


class Deribit(DeribitListing, Exchange):
    """Deribit perpetuals and futures: tickers (best bid/ask, funding, open interest), trades
    and liquidations, 1m candles over WS; chart data, funding history and tickers over REST."""

    name = "deribit"
    market: ClassVar[Market] = "perp"
    channels: ClassVar[tuple[str, ...]] = (
        "ticker.{}.100ms",
        "trades.{}.100ms",
        "chart.trades.{}.1",
    )
    book_stream = "book.{}.100ms"  # snapshot, then changes chained by change_id (book.py)
    always_flowing = "ticker."  # every 100 ms: mark and index move without trades
    # Deribit documents no channel limit per connection or per subscribe request: we keep
    # connections and frames the size of the other venues'
    max_streams_per_connection = 200
    subscribe_chunk: ClassVar[int] = 100
    # public (non-matching-engine) requests: 500 credits each, 10,000 credits/s refill and a
    # 50,000 pool: 20 requests/s sustained, 100 in a burst; we budget 1,200 a minute
    rest_weight_per_minute = 1200
    kline_page_limit = 1000
    funding_page_limit = 720  # hourly rows: 30 days per request

    def ws_connections(self) -> list[WsConnectionPlan]:
        """A symbol's channels share a connection of at most `max_streams_per_connection`
        channels; the heartbeat is set first, then subscribe frames of `subscribe_chunk`. The
        first connection also subscribes DVOL of the followed bases that have one."""
        channels = self.with_books(self.channels)
        per_conn, step = self.max_streams_per_connection // len(channels), self.subscribe_chunk
        heartbeat = rpc("public/set_heartbeat", {"interval": HEARTBEAT_S}, HEARTBEAT_ID)
        plans: list[WsConnectionPlan] = []
        for start in range(0, len(self.symbols), per_conn):
            chunk = self.symbols[start : start + per_conn]
            names = [c.format(self.to_venue(s)) for s in chunk for c in channels]
            frames = [
                rpc("public/subscribe", {"channels": names[i : i + step]}, SUBSCRIBE_ID + i)
                for i in range(0, len(names), step)
            ]
            label = f"{self.name}#{len(plans)}"
            if not plans:
                frames.extend(self._dvol_frames())
            plans.append(
                WsConnectionPlan(label, self.ws_url + WS_PATH, (heartbeat, *frames), chunk)
            )
        return plans

    def _dvol_frames(self) -> list[str]:
        bases = {inst.base for s in self.symbols if (inst := self.instrument(s)) is not None}
        names = dvol_channels(bases)
        return [rpc("public/subscribe", {"channels": names}, DVOL_ID)] if names else []

    def test_message(self) -> str:
        """The answer to a `test_request` heartbeat."""
        return rpc("public/test", {}, TEST_ID)

    def book_resubscribe(self, venue_symbol: str) -> tuple[str, ...]:
        """Unsubscribe and subscribe the book channel: Deribit answers with a snapshot."""
        params = {"channels": [self.book_stream.format(venue_symbol)]}
        return (rpc("public/unsubscribe", params, BOOK_ID),
                rpc("public/subscribe", params, BOOK_ID + 1))  # fmt: skip

    # ----------------------------------------------------------------------- options
    options_currencies: ClassVar[tuple[str, ...]] = CURRENCIES

    def options_summary_request(self, currency: str) -> RestRequest:
        return summary_request(currency)

    def parse_options_summary(
        self, currency: str, payload: Any, recv_ms: int
    ) -> tuple[OptionsSummary | None, dict[str, int]]:
        """(the chain's summary or None, rows skipped by reason); BadMessage for a JSON-RPC
        error or a result that is not a list (`options.py`)."""
        chain = fold_chain(currency, result_of(payload), recv_ms)
        return summary_record(currency, chain, recv_ms), chain.skipped

    def new_parser(self) -> VenueParser:
        return DeribitParser(self)

    # ----------------------------------------------------------------------- REST
    def check_rest_payload(self, payload: Any) -> None:
        """JSON-RPC envelope: an `error` object (e.g. 10028 too_many_requests) is a failure."""
        result_of(payload)

    def _request(self, method: str, symbol: str, **params: str) -> RestRequest:
        return RestRequest(f"{API}/{method}", {"instrument_name": self.to_venue(symbol), **params})

    def klines_request(self, symbol: str, start_ms: int, end_ms: int) -> RestRequest:
        window = {"start_timestamp": str(start_ms), "end_timestamp": str(end_ms)}
        return self._request("get_tradingview_chart_data", symbol, resolution="1", **window)

    def parse_klines(self, symbol: str, payload: Any, recv_ms: int) -> list[Kline]:
        """Columns `ticks, open, high, low, close, volume` (base coin), oldest first; status
        "no_data" is no bar. A bar is closed once its minute has passed at `recv_ms`."""
        result = result_of(payload)
        if not isinstance(result, dict) or result.get("status") == "no_data":
            return []
        head = self.symbol_head(symbol)
        columns = [result.get(k) for k in ("ticks", "open", "high", "low", "close", "volume")]
        lists = [c for c in columns if isinstance(c, list)]
        if len(lists) != len(columns) or len({len(c) for c in lists}) != 1:
            raise BadMessage("deribit: chart data columns missing or of different lengths")

        def row_to_kline(row: Any) -> Kline:
            start = epoch_ms(row[0])
            return minute_bar(head, recv_ms, start, row[1:6], start + 60_000 <= recv_ms)

        return sorted(rows_of(list(zip(*lists, strict=True)), row_to_kline),
                      key=lambda k: k.open_time_ms)  # fmt: skip

    def funding_history_request(
        self, symbol: str, start_ms: int, end_ms: int
    ) -> RestRequest | None:
        window = {"start_timestamp": str(start_ms), "end_timestamp": str(end_ms)}
        return self._request("get_funding_rate_history", symbol, **window)

    def parse_funding_history(self, symbol: str, payload: Any, recv_ms: int) -> list[Funding]:
        """Hourly rows `{timestamp, index_price, interest_8h, interest_1h}`: the 8 h rate
        (comparable with the venues settling every 8 h), oldest first."""
        head = self.symbol_head(symbol)

        def row_to_funding(row: Any) -> Funding:
            return Funding(**head, recv_ms=recv_ms, ts_ms=epoch_ms(row["timestamp"]),
                           funding_rate=rate(row["interest_8h"]), funding_interval_h=8.0,
                           index_price=price(row["index_price"]))  # fmt: skip

        return sorted(rows_of(result_of(payload), row_to_funding), key=lambda f: f.ts_ms)

    def current_funding_request(self, symbol: str) -> RestRequest | None:
        return self._request("ticker", symbol)

    def current_open_interest_request(self, symbol: str) -> RestRequest | None:
        return self._request("ticker", symbol)

    def _ticker_records(self, symbol: str, payload: Any, recv_ms: int) -> list[AnyRaw]:
        """Records of a `public/ticker` answer (the fields of a WS ticker); [] when bad."""
        try:
            data = msgspec.convert(result_of(payload), TickerData, strict=False)
            inst = self.instrument(symbol)
            if inst is None:
                return []
            head = self.symbol_head(symbol)
            return TickerThrottle().records(head, Contract.of(inst), data, recv_ms)[0]
        except (*PARSE_ERRORS, msgspec.ValidationError):
            return []

    def parse_current_funding(self, symbol: str, payload: Any, recv_ms: int) -> list[Funding]:
        records = self._ticker_records(symbol, payload, recv_ms)
        return [r for r in records if isinstance(r, Funding)]

    def parse_current_open_interest(
        self, symbol: str, payload: Any, recv_ms: int
    ) -> list[OpenInterest]:
        records = self._ticker_records(symbol, payload, recv_ms)
        return [r for r in records if isinstance(r, OpenInterest)]
