"""Cheap construction of raw records on the parsers' hot paths.

`Trade(**head, ts_ms=...)` costs ~1.6 us on the benchmark machine: `type.__call__` packs the
keywords into a dict and unpacks them into `__init__`. Allocating the instance and calling the
dataclass `__init__` directly with plain keywords gives the same record for ~0.5 us (the
records have no `__new__` or `__post_init__`; tests/unit/exchanges/test_typed_parsers.py
checks the result against the constructor). `head` is a parser's record header
(`Exchange.record_head`): exchange, market, symbol, venue_symbol, group and quote.
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
new_record = object.__new__
trade_init = Trade.__init__
ticker_init = Ticker.__init__
kline_init = Kline.__init__
funding_init = Funding.__init__
oi_init = OpenInterest.__init__
liquidation_init = Liquidation.__init__


def trade(
    head: Head, *, ts_ms: int, recv_ms: int, price: float, size: float, side: Side, trade_id: str
) -> Trade:
    record = new_record(Trade)
    trade_init(record, exchange=head["exchange"], market=head["market"],
                symbol=head["symbol"], venue_symbol=head["venue_symbol"],
                group=head["group"], quote=head["quote"], ts_ms=ts_ms,
                recv_ms=recv_ms, price=price, size=size, side=side,
                trade_id=trade_id)  # fmt: skip
    return record


def ticker(
    head: Head, *, ts_ms: int, recv_ms: int, bid: float, bid_size: float, ask: float,
    ask_size: float, last: float | None = None,
) -> Ticker:  # fmt: skip
    record = new_record(Ticker)
    ticker_init(record, exchange=head["exchange"], market=head["market"],
                 symbol=head["symbol"], venue_symbol=head["venue_symbol"],
                group=head["group"], quote=head["quote"], ts_ms=ts_ms,
                 recv_ms=recv_ms, bid=bid, bid_size=bid_size, ask=ask, ask_size=ask_size,
                 last=last)  # fmt: skip
    return record


def kline(
    head: Head, *, ts_ms: int, recv_ms: int, open_time_ms: int, interval: str, open: float,
    high: float, low: float, close: float, volume: float, closed: bool,
) -> Kline:  # fmt: skip
    record = new_record(Kline)
    kline_init(record, exchange=head["exchange"], market=head["market"],
                symbol=head["symbol"], venue_symbol=head["venue_symbol"],
                group=head["group"], quote=head["quote"], ts_ms=ts_ms,
                recv_ms=recv_ms, open_time_ms=open_time_ms, interval=interval, open=open,
                high=high, low=low, close=close, volume=volume, closed=closed)  # fmt: skip
    return record


def funding(
    head: Head, *, ts_ms: int, recv_ms: int, funding_rate: float, funding_interval_h: float,
    next_funding_time_ms: int | None = None, mark_price: float | None = None,
    index_price: float | None = None,
) -> Funding:  # fmt: skip
    record = new_record(Funding)
    funding_init(record, exchange=head["exchange"], market=head["market"],
                  symbol=head["symbol"], venue_symbol=head["venue_symbol"],
                group=head["group"], quote=head["quote"], ts_ms=ts_ms,
                  recv_ms=recv_ms, funding_rate=funding_rate,
                  funding_interval_h=funding_interval_h,
                  next_funding_time_ms=next_funding_time_ms, mark_price=mark_price,
                  index_price=index_price)  # fmt: skip
    return record


def open_interest(
    head: Head, *, ts_ms: int, recv_ms: int, open_interest: float,
    open_interest_usd: float | None = None,
) -> OpenInterest:  # fmt: skip
    record = new_record(OpenInterest)
    oi_init(record, exchange=head["exchange"], market=head["market"], symbol=head["symbol"],
             venue_symbol=head["venue_symbol"],
                group=head["group"], quote=head["quote"], ts_ms=ts_ms, recv_ms=recv_ms,
             open_interest=open_interest, open_interest_usd=open_interest_usd)  # fmt: skip
    return record


def liquidation(
    head: Head, *, ts_ms: int, recv_ms: int, price: float, size: float, side: Side
) -> Liquidation:
    record = new_record(Liquidation)
    liquidation_init(record, exchange=head["exchange"], market=head["market"],
                      symbol=head["symbol"], venue_symbol=head["venue_symbol"],
                group=head["group"], quote=head["quote"], ts_ms=ts_ms,
                      recv_ms=recv_ms, price=price, size=size, side=side)  # fmt: skip
    return record
