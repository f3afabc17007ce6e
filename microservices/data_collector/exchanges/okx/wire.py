"""OKX v5 public WebSocket wire model (`/ws/v5/public` and `/ws/v5/business`): one typed frame
per channel (`tickers`, `trades`, `candle1m`, `funding-rate`, `open-interest`, `mark-price`,
`index-tickers`, `liquidation-orders`, the `*-candle1m` index and mark candles) and the control
frames (`event`: subscribe, unsubscribe, error, notice), as msgspec Structs.

A data frame is `{"arg": {"channel", "instId" | "instType"}, "data": [...]}`; OKX writes `arg`
first, so `CHANNEL_PREFIX` lets the parser pick the frame's decoder before decoding. Numbers
are JSON strings (read by the lax decoders of `typed.py`). Only the fields a handler reads
are declared. Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from msgspec import UNSET, UnsetType

from microservices.data_collector.exchanges.typed import EpochMs, Price, Rate, Size, Wire

CHANNEL_PREFIX: Final = '{"arg":{"channel":"'  # how OKX's data frames begin
Side = Literal["buy", "sell"]
Empty = Literal[""] | UnsetType  # a value OKX leaves "" where it has none


class Arg(Wire):
    channel: str
    instId: str = ""  # instrument channels
    instType: str = ""  # instType-wide channels (liquidation-orders)


class TickerItem(Wire):
    instId: str
    ts: EpochMs  # venue push time (ms)
    bidPx: Price | Empty = UNSET
    bidSz: Size | Empty = UNSET  # contracts on SWAP, base units on SPOT
    askPx: Price | Empty = UNSET
    askSz: Size | Empty = UNSET
    last: Price | Empty = UNSET


class TickerFrame(Wire):
    arg: Arg
    data: list[TickerItem]


class TradeItem(Wire):
    instId: str
    tradeId: str
    px: Price
    sz: Size  # contracts on SWAP, base units on SPOT
    side: Side  # the taker's side
    ts: EpochMs


class TradeFrame(Wire):
    arg: Arg
    data: list[TradeItem]


class CandleFrame(Wire):
    """`candle1m` and the business channels' `mark-price-candle1m`/`index-candle1m`: rows
    `[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]` (index/mark rows stop after c,
    confirm)."""

    arg: Arg
    data: list[list[str]]


class FundingItem(Wire):
    instId: str
    fundingRate: Rate | Empty = UNSET  # the current period's rate (absent in old frames)
    fundingTime: EpochMs | Empty = UNSET  # its settlement time
    nextFundingTime: EpochMs | Empty = UNSET  # the settlement after it
    ts: EpochMs | UnsetType = UNSET  # push time (frames before 2023 lack it)


class FundingFrame(Wire):
    arg: Arg
    data: list[FundingItem]


class OpenInterestItem(Wire):
    instId: str
    oi: Size  # contracts
    ts: EpochMs
    oiCcy: Size | Empty = UNSET  # base-coin units
    oiUsd: Size | Empty = UNSET  # USD (frames since 2023)


class OpenInterestFrame(Wire):
    arg: Arg
    data: list[OpenInterestItem]


class MarkItem(Wire):
    instId: str
    markPx: Price
    ts: EpochMs


class MarkFrame(Wire):
    arg: Arg
    data: list[MarkItem]


class IndexItem(Wire):
    instId: str
    idxPx: Price
    ts: EpochMs


class IndexFrame(Wire):
    arg: Arg
    data: list[IndexItem]


class LiquidationDetail(Wire):
    bkPx: Price  # bankruptcy price
    sz: Size  # contracts (SWAP)
    side: Side  # the liquidation order's side: buy closes a short position
    ts: EpochMs


class LiquidationItem(Wire):
    instId: str
    details: list[LiquidationDetail]


class LiquidationFrame(Wire):
    arg: Arg
    data: list[LiquidationItem]


class Envelope(Wire):
    """What every JSON frame says about itself: its channel, or a control frame's `event`."""

    arg: Arg | None = None
    event: str | None = None  # subscribe, unsubscribe, error, notice, channel-conn-count
    code: Any = None
    msg: Any = None


FRAMES: Final[dict[str, type[Wire]]] = {
    "tickers": TickerFrame,
    "trades": TradeFrame,
    "candle1m": CandleFrame,
    "mark-price-candle1m": CandleFrame,
    "index-candle1m": CandleFrame,
    "funding-rate": FundingFrame,
    "open-interest": OpenInterestFrame,
    "mark-price": MarkFrame,
    "index-tickers": IndexFrame,
    "liquidation-orders": LiquidationFrame,
}
