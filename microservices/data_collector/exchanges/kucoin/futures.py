"""KuCoin Futures USDT-margined perpetuals (`kucoin_futures`): tickerV2 and execution over a
bullet-public WebSocket of `api-futures.kucoin.com`; REST klines, funding (current and
history) and current open interest.

Sizes on the wire are contracts: base units = contracts x the contract's `multiplier` from
`/api/v1/contracts/active`. KuCoin publishes no open-interest history. Pure (the bullet
call is inherited from `KucoinBase`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

from microservices.common.errors import BadMessage
from microservices.common.records import Funding, Kline, Market, OpenInterest
from microservices.data_collector.exchanges import _records as build
from microservices.data_collector.exchanges.base import (
    PARSE_ERRORS,
    RestRequest,
    epoch_ms,
    minute_bar,
    price,
    qty,
    rate,
)
from microservices.data_collector.exchanges.kucoin.exchange import KucoinBase, data_rows
from microservices.data_collector.exchanges.kucoin.listing import KucoinFuturesListing
from microservices.data_collector.exchanges.kucoin.parser import MINUTE_MS

HOUR_MS: Final = 3_600_000


def _data(payload: Any) -> dict[str, Any]:
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        raise BadMessage("kucoin futures: answer without a data object")
    return data


class KucoinFutures(KucoinFuturesListing, KucoinBase):
    """KuCoin Futures linear perpetuals: best bid/ask and trades over WS (one topic per
    symbol), the 50-level book; klines, funding and open interest over REST."""

    name = "kucoin_futures"
    market: ClassVar[Market] = "perp"
    channels = ("/contractMarket/tickerV2", "/contractMarket/execution", "/contract/instrument")
    batched = False  # one symbol per topic: 4 channels x 20 symbols = 80 subscribe frames,
    # within the 100 client messages per 10 s
    max_streams_per_connection = 80
    always_flowing = "/contract/instrument"  # mark/index price every second
    book_stream = "/contractMarket/level2Depth50"  # 50-level snapshots, sizes in contracts
    kline_page_limit = 500  # rows per /api/v1/kline/query answer
    funding_page_limit = 100

    def contract_size(self, symbol: str) -> float:
        inst = self.instrument(symbol)
        return 1.0 if inst is None else inst.contract_size

    # ----------------------------------------------------------------------- REST
    def klines_request(self, symbol: str, start_ms: int, end_ms: int) -> RestRequest:
        params = {"symbol": self.to_venue(symbol), "granularity": "1",
                  "from": str(start_ms), "to": str(end_ms)}  # fmt: skip
        return RestRequest("/api/v1/kline/query", params, weight=3)

    def parse_klines(self, symbol: str, payload: Any, recv_ms: int) -> list[Kline]:
        """Rows `[start (ms), open, high, low, close, volume (contracts)]` -> oldest first,
        volume in base units; closed once start + 60 s <= recv_ms."""
        head, lot = self.symbol_head(symbol), self.contract_size(symbol)

        def row_to_kline(row: Any) -> Kline:
            start = epoch_ms(row[0])
            ohlcv = (row[1], row[2], row[3], row[4], qty(row[5]) * lot)
            return minute_bar(head, recv_ms, start, ohlcv, start + MINUTE_MS <= recv_ms)

        return sorted(data_rows(payload, row_to_kline), key=lambda k: k.open_time_ms)

    def current_funding_request(self, symbol: str) -> RestRequest | None:
        return RestRequest(f"/api/v1/funding-rate/{self.to_venue(symbol)}/current", {}, 2)

    def parse_current_funding(self, symbol: str, payload: Any, recv_ms: int) -> list[Funding]:
        """`data: {value, granularity (ms), timePoint (ms), fundingTime?}`: the rate of the
        current period, per `granularity`; remembered as the symbol's interval."""
        data = _data(payload)
        head = self.symbol_head(symbol)
        try:
            interval_h = float(data["granularity"]) / HOUR_MS
            if not interval_h > 0:
                raise BadMessage(f"kucoin funding granularity {data['granularity']!r}")
            next_ms = data.get("fundingTime")
            funding = build.funding(
                head, ts_ms=epoch_ms(data["timePoint"]), recv_ms=recv_ms,
                funding_rate=rate(data["value"]), funding_interval_h=interval_h,
                next_funding_time_ms=None if next_ms is None else epoch_ms(next_ms),
            )  # fmt: skip
        except PARSE_ERRORS as exc:
            raise BadMessage(f"kucoin current funding: {type(exc).__name__} {exc}") from None
        self.funding_intervals[head["symbol"]] = interval_h
        return [funding]

    def funding_history_request(
        self, symbol: str, start_ms: int, end_ms: int
    ) -> RestRequest | None:
        params = {"symbol": self.to_venue(symbol), "from": str(start_ms), "to": str(end_ms)}
        return RestRequest("/api/v1/contract/funding-rates", params, weight=5)

    def parse_funding_history(self, symbol: str, payload: Any, recv_ms: int) -> list[Funding]:
        """Rows `{fundingRate, timepoint (ms)}` -> oldest first, at the symbol's interval."""
        head = self.symbol_head(symbol)
        inst = self.instrument(symbol)
        listed = None if inst is None else inst.funding_interval_h
        interval = self.funding_intervals.get(head["symbol"], listed or 8.0)

        def row_to_funding(row: Any) -> Funding:
            ts = row.get("timepoint", row.get("timePoint"))
            return build.funding(head, ts_ms=epoch_ms(ts), recv_ms=recv_ms,
                                 funding_rate=rate(row["fundingRate"]),
                                 funding_interval_h=interval)  # fmt: skip

        return sorted(data_rows(payload, row_to_funding), key=lambda f: f.ts_ms)

    def current_open_interest_request(self, symbol: str) -> RestRequest | None:
        return RestRequest(f"/api/v1/contracts/{self.to_venue(symbol)}", {}, 3)

    def parse_current_open_interest(
        self, symbol: str, payload: Any, recv_ms: int
    ) -> list[OpenInterest]:
        """`data: {openInterest (contracts), markPrice}` -> base units and USD; the answer has
        no time of its own: ts_ms is the receive time."""
        data = _data(payload)
        try:
            base = qty(data["openInterest"]) * self.contract_size(symbol)
            mark = data.get("markPrice")
            usd = None if mark is None else base * price(mark)
        except PARSE_ERRORS as exc:
            raise BadMessage(f"kucoin open interest: {type(exc).__name__} {exc}") from None
        return [build.open_interest(self.symbol_head(symbol), ts_ms=recv_ms, recv_ms=recv_ms,
                                    open_interest=base, open_interest_usd=usd)]  # fmt: skip
