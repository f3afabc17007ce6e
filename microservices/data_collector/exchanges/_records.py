"""Construction of raw records from a parser's record header on the hot paths.

`head` is the header a parser resolved for a frame's symbol (`Exchange.record_head`: exchange,
market, symbol, venue_symbol, group and quote). The builders pass every field by keyword to
the records' msgspec constructor (~0.1 us a record; `Trade(**head, ...)` would first pack the
keywords into a dict, ~0.4 us more).
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
    return Trade(exchange=head["exchange"], market=head["market"], symbol=head["symbol"],
                 venue_symbol=head["venue_symbol"], group=head["group"], quote=head["quote"],
                 ts_ms=ts_ms, recv_ms=recv_ms, price=price, size=size, side=side,
                 trade_id=trade_id)  # fmt: skip


def ticker(
    head: Head, *, ts_ms: int, recv_ms: int, bid: float, bid_size: float, ask: float,
    ask_size: float, last: float | None = None,
) -> Ticker:  # fmt: skip
    return Ticker(exchange=head["exchange"], market=head["market"], symbol=head["symbol"],
                  venue_symbol=head["venue_symbol"], group=head["group"], quote=head["quote"],
                  ts_ms=ts_ms, recv_ms=recv_ms, bid=bid, bid_size=bid_size, ask=ask,
                  ask_size=ask_size, last=last)  # fmt: skip


def kline(
    head: Head, *, ts_ms: int, recv_ms: int, open_time_ms: int, interval: str, open: float,
    high: float, low: float, close: float, volume: float, closed: bool,
) -> Kline:  # fmt: skip
    return Kline(exchange=head["exchange"], market=head["market"], symbol=head["symbol"],
                 venue_symbol=head["venue_symbol"], group=head["group"], quote=head["quote"],
                 ts_ms=ts_ms, recv_ms=recv_ms, open_time_ms=open_time_ms, interval=interval,
                 open=open, high=high, low=low, close=close, volume=volume,
                 closed=closed)  # fmt: skip


def funding(
    head: Head, *, ts_ms: int, recv_ms: int, funding_rate: float, funding_interval_h: float,
    next_funding_time_ms: int | None = None, mark_price: float | None = None,
    index_price: float | None = None,
) -> Funding:  # fmt: skip
    return Funding(exchange=head["exchange"], market=head["market"], symbol=head["symbol"],
                   venue_symbol=head["venue_symbol"], group=head["group"],
                   quote=head["quote"], ts_ms=ts_ms, recv_ms=recv_ms,
                   funding_rate=funding_rate, funding_interval_h=funding_interval_h,
                   next_funding_time_ms=next_funding_time_ms, mark_price=mark_price,
                   index_price=index_price)  # fmt: skip


def open_interest(
    head: Head, *, ts_ms: int, recv_ms: int, open_interest: float,
    open_interest_usd: float | None = None,
) -> OpenInterest:  # fmt: skip
    return OpenInterest(exchange=head["exchange"], market=head["market"],
                        symbol=head["symbol"], venue_symbol=head["venue_symbol"],
                        group=head["group"], quote=head["quote"], ts_ms=ts_ms,
                        recv_ms=recv_ms, open_interest=open_interest,
                        open_interest_usd=open_interest_usd)  # fmt: skip


def liquidation(
    head: Head, *, ts_ms: int, recv_ms: int, price: float, size: float, side: Side
) -> Liquidation:
    return Liquidation(exchange=head["exchange"], market=head["market"],
                       symbol=head["symbol"], venue_symbol=head["venue_symbol"],
                       group=head["group"], quote=head["quote"], ts_ms=ts_ms,
                       recv_ms=recv_ms, price=price, size=size, side=side)  # fmt: skip
