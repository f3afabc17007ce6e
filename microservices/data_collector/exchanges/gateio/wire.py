"""Gate.io v4 public WebSocket wire model (spot `/ws/v4/`, USDT futures `/v4/ws/usdt`): the
envelope every frame shares and one typed frame per channel, as msgspec Structs.

Frames are `{"time", "time_ms", "channel", "event", "result"|"error"}`; `event` "update"
carries data, "subscribe"/"unsubscribe" acks (or an `error`), pongs have channel `*.pong`.
Only the fields a handler reads are declared. Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

import msgspec
from msgspec import UNSET, UnsetType

from microservices.common.schema_fields import MAX_TS_MS, MIN_TS_MS
from microservices.data_collector.exchanges.typed import EpochMs, Price, Rate, Size, Wire

Side = Literal["buy", "sell"]
EpochS = Annotated[int, msgspec.Meta(ge=MIN_TS_MS // 1000, le=MAX_TS_MS // 1000)]
# spot `create_time_ms`: ms with a fraction, sent as a string ("1619093543708.2642")
EpochMsFloat = Annotated[float, msgspec.Meta(ge=MIN_TS_MS, le=MAX_TS_MS)]
Contracts = Annotated[float, msgspec.Meta(ge=-1e18, le=1e18)]  # futures size, signed
Empty = Literal[""]  # a futures book ticker of an empty side sends "" prices


class Envelope(Wire):
    """What every frame says about itself."""

    channel: str = ""
    event: str = ""
    error: Any = None  # {"code", "message"} on a refused request
    payload: Any = None  # newer acks echo the request's payload


class SpotTrade(Wire):
    id: Any  # trade id: a JSON integer
    create_time: EpochS
    side: Side  # taker side
    currency_pair: str
    amount: Size
    price: Price
    create_time_ms: EpochMsFloat | UnsetType = UNSET  # absent in frames before 2021


class SpotTradeFrame(Wire):
    result: SpotTrade


class BookTicker(Wire):
    t: int  # book time (ms); 0 on an empty futures book
    s: str  # symbol
    b: Price | Empty  # best bid
    B: Size  # its size (spot: base units; futures: contracts)
    a: Price | Empty  # best ask
    A: Size


class BookTickerFrame(Wire):
    result: BookTicker


class Candle(Wire):
    t: EpochS  # bar open time (s; spot sends a string)
    o: Price
    h: Price
    low: Price = msgspec.field(name="l")
    c: Price
    v: Size  # spot: quote volume; futures: contracts
    n: str  # "<interval>_<symbol>"
    a: Size | UnsetType = UNSET  # base volume (newer frames)
    w: Any = UNSET  # window closed (newer frames; a JSON bool)


class SpotCandleFrame(Wire):
    time: EpochS
    result: Candle
    time_ms: EpochMs | UnsetType = UNSET


class FuturesCandleFrame(Wire):
    time: EpochS
    result: list[Candle]
    time_ms: EpochMs | UnsetType = UNSET


class FuturesTrade(Wire):
    size: Contracts  # contracts; negative = taker sell
    id: Any
    create_time: EpochS
    price: Price
    contract: str
    create_time_ms: EpochMs | UnsetType = UNSET


class FuturesTradeFrame(Wire):
    result: list[FuturesTrade]


class FuturesTicker(Wire):
    contract: str
    funding_rate: Rate  # the current period's rate, per funding interval
    mark_price: Price
    total_size: Size  # open interest, contracts
    index_price: Price | Empty | UnsetType = UNSET


class FuturesTickerFrame(Wire):
    time: EpochS
    result: list[FuturesTicker] | FuturesTicker  # a list today, one object in 2022 frames
    time_ms: EpochMs | UnsetType = UNSET


# channel -> model of its "update" frames (spot.tickers carries no sizes: not subscribed)
FRAMES: Final[dict[str, type[Wire]]] = {
    "spot.trades": SpotTradeFrame,
    "spot.book_ticker": BookTickerFrame,
    "spot.candlesticks": SpotCandleFrame,
    "futures.trades": FuturesTradeFrame,
    "futures.book_ticker": BookTickerFrame,
    "futures.candlesticks": FuturesCandleFrame,
    "futures.tickers": FuturesTickerFrame,
}
