"""Deribit API v2 WebSocket wire model: JSON-RPC notifications of the public channels the
collector parses (`ticker.*`, `trades.*`, `chart.trades.*`, `deribit_volatility_index.*`),
the heartbeat frames and the answers to our requests, as msgspec Structs.

A notification's type is its channel's first segment; `CHANNEL_PREFIX` lets the parser pick
the decoder before decoding (Deribit writes `jsonrpc`, `method`, then `params.channel`).
Only the fields a handler reads are declared. Numbers are JSON numbers. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from msgspec import UNSET, UnsetType

from microservices.data_collector.exchanges.typed import EpochMs, Price, Rate, Size, Wire

CHANNEL_PREFIX: Final = '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"'
# JSON-RPC ids of our requests: set_heartbeat, public/test, subscribe frames (100 + offset of
# their first channel), the DVOL subscribe (800), a book's unsubscribe and subscribe (900, 901)
HEARTBEAT_ID, TEST_ID, SUBSCRIBE_ID, DVOL_ID, BOOK_ID = 1, 2, 100, 800, 900
Direction = Literal["buy", "sell"]


class TickerData(Wire):
    """`ticker.{instrument}.{interval}` (the fields of `public/ticker`); a price of 0 is an
    empty side (options), absent fields do not apply to the instrument's kind."""

    timestamp: EpochMs
    instrument_name: str
    best_bid_price: Size | None = None  # 0 or null: no bid
    best_bid_amount: Size | None = None  # USD for inverse contracts, base coin otherwise
    best_ask_price: Size | None = None
    best_ask_amount: Size | None = None
    last_price: Price | None = None
    mark_price: Size | None = None
    index_price: Price | None = None
    funding_8h: Rate | UnsetType | None = UNSET  # perpetuals: funding over the last 8 h
    current_funding: Rate | UnsetType | None = UNSET  # perpetuals: the current rate
    open_interest: Size | UnsetType | None = UNSET  # USD for inverse contracts, else base coin


class TickerParams(Wire):
    channel: str
    data: TickerData


class TickerFrame(Wire):
    params: TickerParams


class TradeItem(Wire):
    trade_id: Any  # a string ("39355898"; "ETH-12345" on some books)
    timestamp: EpochMs
    price: Price
    amount: Size  # USD for inverse contracts, base coin otherwise
    direction: Direction  # taker side
    instrument_name: str
    liquidation: str | UnsetType = UNSET  # "M", "T" or "MT": whose side was liquidated


class TradeParams(Wire):
    channel: str
    data: list[TradeItem]


class TradeFrame(Wire):
    params: TradeParams


class ChartData(Wire):
    """`chart.trades.{instrument}.{resolution}`: the candle being built (or just closed)."""

    tick: EpochMs  # open time
    open: Price
    high: Price
    low: Price
    close: Price
    volume: Size  # base coin
    cost: Size | UnsetType = UNSET  # quote (USD for inverse)


class ChartParams(Wire):
    channel: str
    data: ChartData


class ChartFrame(Wire):
    params: ChartParams


class RpcError(Wire):
    code: Any = None
    message: Any = None


class EnvelopeParams(Wire):
    channel: str | None = None
    type: str | None = None  # heartbeat: "heartbeat" or "test_request"


class Envelope(Wire):
    """What every frame says about itself: a notification's method and channel, or the
    `id` / `result` / `error` of an answer to one of our requests."""

    method: str | None = None
    params: EnvelopeParams | None = None
    id: Any = None
    result: Any = UNSET
    error: RpcError | None = None


class VolatilityData(Wire):
    """`deribit_volatility_index.{btc_usd|eth_usd}`: DVOL, in percent (129.36)."""

    volatility: Price
    timestamp: EpochMs
    index_name: str  # btc_usd, eth_usd


class VolatilityParams(Wire):
    channel: str
    data: VolatilityData


class VolatilityFrame(Wire):
    params: VolatilityParams


# channel prefix -> model
CHANNELS: Final[dict[str, type[Wire]]] = {
    "ticker": TickerFrame,
    "trades": TradeFrame,
    "chart": ChartFrame,
    "deribit_volatility_index": VolatilityFrame,
}
