"""Construction of raw records from a parser's record header on the hot paths.

`head` is the header a parser resolved for a frame's symbol (`Exchange.record_head`: exchange,
market, symbol, venue_symbol, group and quote). The builders pass the fields positionally, in
the records' declaration order: ~0.05 us a record, where keywords cost ~0.1 us up to 15 fields
and ~0.5 us from 16 (msgspec; a Kline has 16). tests/unit/exchanges/test_typed_parsers.py
checks every builder against the keyword constructor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from microservices.common.records import (
    Funding,
    Kline,
    Liquidation,
    OpenInterest,
    Side,
    Ticker,
    Trade,
)

Head = Mapping[str, Any]


def trade(
    head: Head, *, ts_ms: int, recv_ms: int, price: float, size: float, side: Side, trade_id: str
) -> Trade:
    return Trade(head["exchange"], head["market"], head["symbol"], head["venue_symbol"],
                 head["group"], head["quote"], ts_ms, recv_ms, price, size, side,
                 trade_id)  # fmt: skip


def ticker(
    head: Head, *, ts_ms: int, recv_ms: int, bid: float, bid_size: float, ask: float,
    ask_size: float, last: float | None = None,
) -> Ticker:  # fmt: skip
    return Ticker(head["exchange"], head["market"], head["symbol"], head["venue_symbol"],
                  head["group"], head["quote"], ts_ms, recv_ms, bid, bid_size, ask, ask_size,
                  last)  # fmt: skip


def kline(
    head: Head, *, ts_ms: int, recv_ms: int, open_time_ms: int, interval: str, open: float,
    high: float, low: float, close: float, volume: float, closed: bool,
) -> Kline:  # fmt: skip
    return Kline(head["exchange"], head["market"], head["symbol"], head["venue_symbol"],
                 head["group"], head["quote"], ts_ms, recv_ms, open_time_ms, interval, open,
                 high, low, close, volume, closed)  # fmt: skip


def funding(
    head: Head, *, ts_ms: int, recv_ms: int, funding_rate: float, funding_interval_h: float,
    next_funding_time_ms: int | None = None, mark_price: float | None = None,
    index_price: float | None = None,
) -> Funding:  # fmt: skip
    return Funding(head["exchange"], head["market"], head["symbol"], head["venue_symbol"],
                   head["group"], head["quote"], ts_ms, recv_ms, funding_rate,
                   funding_interval_h, next_funding_time_ms, mark_price,
                   index_price)  # fmt: skip


def open_interest(
    head: Head, *, ts_ms: int, recv_ms: int, open_interest: float,
    open_interest_usd: float | None = None,
) -> OpenInterest:  # fmt: skip
    return OpenInterest(head["exchange"], head["market"], head["symbol"],
                        head["venue_symbol"], head["group"], head["quote"], ts_ms, recv_ms,
                        open_interest, open_interest_usd)  # fmt: skip


def liquidation(
    head: Head, *, ts_ms: int, recv_ms: int, price: float, size: float, side: Side
) -> Liquidation:
    return Liquidation(head["exchange"], head["market"], head["symbol"], head["venue_symbol"],
                       head["group"], head["quote"], ts_ms, recv_ms, price, size,
                       side)  # fmt: skip
