"""Bitget v2 public WebSocket wire model (`wss://ws.bitget.com/v2/ws/public`): the data frames
`{"action", "arg": {"instType", "channel", "instId"}, "data": [...], "ts"}` of the channels
`trade`, `ticker` and `candle1m`, and the control frames (`event` subscribe/error; the text
`pong`), as msgspec Structs.

The channel names the frame's model; `CHANNEL_KEY` lets the parser read it from the text
before decoding. Only the fields a handler reads are declared. Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from msgspec import UNSET, UnsetType

from microservices.data_collector.exchanges.typed import EpochMs, Price, Rate, Size, Wire

CHANNEL_KEY: Final = '"channel":"'  # how the channel is spelled inside `arg`
Action = Literal["snapshot", "update"]
Side = Literal["buy", "sell"]
# a ticker value that does not apply (yet) is "" or absent
Empty = Literal[""] | None | UnsetType


class Arg(Wire):
    """The subscription a frame belongs to."""

    instType: str  # SPOT, USDT-FUTURES, COIN-FUTURES, USDC-FUTURES
    channel: str
    instId: str = ""  # venue symbol (BTCUSDT)


class TradeItem(Wire):
    ts: EpochMs  # match time (ms, a string)
    price: Price
    size: Size  # base coin
    side: Side  # taker side
    tradeId: Any  # a non-empty string (checked by the handler)


class TradeFrame(Wire):
    arg: Arg
    data: list[TradeItem]


class TickerItem(Wire):
    """`ticker`: every push carries every field (spot and futures); funding fields are
    present on futures only."""

    ts: EpochMs
    bidPr: Price
    bidSz: Size
    askPr: Price
    askSz: Size
    lastPr: Price | Empty = None
    markPrice: Price | Empty = UNSET
    indexPrice: Price | Empty = UNSET
    fundingRate: Rate | Empty = UNSET  # per settlement, a fraction
    nextFundingTime: int | Empty = UNSET  # ms; "0" when nothing is scheduled
    holdingAmount: Size | Empty = UNSET  # open interest, base coin


class TickerFrame(Wire):
    arg: Arg
    data: list[TickerItem]


# [start ms, open, high, low, close, base volume, quote volume, USDT volume] (strings)
CandleRow = tuple[EpochMs, Price, Price, Price, Price, Size, Any, Any]


class CandleFrame(Wire):
    arg: Arg
    action: Action  # snapshot: the recent bars; update: the open bar (or the next one)
    ts: EpochMs  # push time
    data: list[CandleRow]


class Envelope(Wire):
    """What every frame says about itself: its subscription (`arg`) and, for control frames,
    `event` (subscribe, unsubscribe, error) with `code`/`msg`."""

    arg: Arg | None = None
    event: str | None = None
    action: str | None = None


FRAMES: Final[dict[str, type[Wire]]] = {
    "trade": TradeFrame,
    "ticker": TickerFrame,
    "candle1m": CandleFrame,
}
