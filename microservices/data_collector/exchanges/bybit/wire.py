"""Bybit v5 public WebSocket wire model (linear and spot): one typed frame per topic family
(`publicTrade.*`, `tickers.*`, `kline.*`, `orderbook.*`, `allLiquidation.*`/`liquidation.*`)
and the topic-less control frames, as msgspec Structs.

The type of a frame is the topic's first segment; `TOPIC_PREFIX` lets the parser pick the
frame's decoder before decoding (Bybit writes `topic` first). Only the fields a handler
reads are declared; others are skipped. Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

import msgspec
from msgspec import UNSET, UnsetType

from microservices.common.schema_fields import MAX_TS_MS
from microservices.data_collector.exchanges.typed import EpochMs, Price, Rate, Size, Wire

TOPIC_PREFIX: Final = '{"topic":"'  # how Bybit's data frames begin
Kind = Literal["snapshot", "delta"]
Side = Literal["Buy", "Sell"]
# a ticker value that did not change is absent, or "" where it does not apply
Empty = Literal[""] | None | UnsetType
Hours = Annotated[float, msgspec.Meta(gt=0.0, le=24.0 * 30)]  # fundingIntervalHour
FundingMs = Annotated[int, msgspec.Meta(ge=0, le=MAX_TS_MS)]  # 0: nothing scheduled


class TradeItem(Wire):
    T: EpochMs  # trade time
    S: Side  # taker side
    v: Size
    p: Price
    i: Any  # trade id: a non-empty string or an integer


class TradeFrame(Wire):
    topic: str  # publicTrade.<symbol>
    data: list[TradeItem]


class TickerData(Wire):
    """`tickers.*` fields (linear): a snapshot carries all, a delta those that changed."""

    bid1Price: Price | Empty = UNSET
    bid1Size: Size | Empty = UNSET
    ask1Price: Price | Empty = UNSET
    ask1Size: Size | Empty = UNSET
    lastPrice: Price | Empty = UNSET
    markPrice: Price | Empty = UNSET
    indexPrice: Price | Empty = UNSET
    fundingRate: Rate | Empty = UNSET
    nextFundingTime: FundingMs | Empty = UNSET
    fundingIntervalHour: Hours | Empty = UNSET
    openInterest: Size | Empty = UNSET
    openInterestValue: Size | Empty = UNSET


TICKER_KEYS: Final = TickerData.__struct_fields__


class TickerFrame(Wire):
    topic: str  # tickers.<symbol>
    type: Kind
    ts: EpochMs
    data: TickerData


class KlineItem(Wire):
    start: EpochMs
    open: Price
    high: Price
    low: Price
    close: Price
    volume: Size
    confirm: Any  # closed (JSON bool)
    timestamp: EpochMs


class KlineFrame(Wire):
    topic: str  # kline.<interval>.<symbol>
    data: list[KlineItem]


class Levels(Wire):
    b: list[tuple[Price, Size]]  # bids: [price, size], size 0 deletes the level
    a: list[tuple[Price, Size]]


class BookFrame(Wire):
    topic: str  # orderbook.<depth>.<symbol>
    type: Kind
    ts: EpochMs
    data: Levels


class LiquidationItem(Wire):
    T: EpochMs
    S: Side  # side of the liquidated POSITION
    v: Size
    p: Price


class LegacyLiquidation(Wire):
    """The deprecated `liquidation.*` topic: one object per frame."""

    updatedTime: EpochMs
    side: Side
    size: Size
    price: Price


class LiquidationFrame(Wire):
    topic: str  # allLiquidation.<symbol> (or liquidation.<symbol>)
    data: list[LiquidationItem] | LegacyLiquidation


class Envelope(Wire):
    """What every frame says about itself: its topic, or the fields of a control frame
    (subscribe acks, pongs: `success`, `op`)."""

    topic: str | None = None
    success: Any = UNSET
    op: Any = None


FRAMES: Final[dict[str, type[Wire]]] = {
    "publicTrade": TradeFrame,
    "tickers": TickerFrame,
    "kline": KlineFrame,
    "orderbook": BookFrame,
    "allLiquidation": LiquidationFrame,
    "liquidation": LiquidationFrame,
}
