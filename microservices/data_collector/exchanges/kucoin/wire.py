"""KuCoin public WebSocket wire model (spot `/market/*` and futures `/contractMarket/*`): the
data frames `{"type": "message", "topic", "subject", "data"}` as msgspec Structs tagged by
`subject`. Control frames (welcome, ack, pong, error) carry no subject: the decoder refuses
them and the parser's `classify()` names them. Only the fields a handler reads are declared.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

import msgspec

from microservices.common.schema_fields import MAX_TS_MS, MIN_TS_MS
from microservices.data_collector.exchanges.typed import EpochMs, Price, Size, Wire

NS_PER_MS: Final = 1_000_000
# nanosecond timestamps (match `time`, futures `ts`, candle `time`) within 2009..2100
EpochNs = Annotated[int, msgspec.Meta(ge=MIN_TS_MS * NS_PER_MS, le=MAX_TS_MS * NS_PER_MS)]
EpochS = Annotated[int, msgspec.Meta(ge=MIN_TS_MS // 1000, le=MAX_TS_MS // 1000)]
Side = Literal["buy", "sell"]  # the taker's side (spot match and futures execution)


class Tagged(Wire, tag_field="subject"):
    """A data frame; `subject` names its type."""

    topic: str  # e.g. /market/ticker:BTC-USDT


# ------------------------------------------------------------------ spot
class SpotTickerData(Wire):
    bestBid: Price
    bestBidSize: Size
    bestAsk: Price
    bestAskSize: Size
    time: EpochMs  # push time (ms)
    price: Price | None = None  # last trade price


class SpotTicker(Tagged, tag="trade.ticker"):
    data: SpotTickerData


class MatchData(Wire):
    side: Side  # taker side
    size: Size
    price: Price
    tradeId: Any  # a string (hex or decimal); checked by the handler
    time: EpochNs  # match time (ns, as a string)


class SpotMatch(Tagged, tag="trade.l3match"):
    data: MatchData


class CandleData(Wire):
    # [start (s), open, close, high, low, volume (base), turnover (quote)]
    candles: tuple[EpochS, Price, Price, Price, Price, Size, Size]
    time: EpochNs  # push time (ns)


class CandleUpdate(Tagged, tag="trade.candles.update"):
    data: CandleData


class CandleAdd(Tagged, tag="trade.candles.add"):
    """Pushed when a new candle starts: carries the last state of a candle (maybe the one
    that just closed, then the new one)."""

    data: CandleData


class SnapshotFrame(Tagged, tag="trade.snapshot"):
    """`/market/snapshot:{sym}`: the 24 h statistics, pushed every 2 s whatever trades: the
    spot connection's heartbeat (no record)."""


# ------------------------------------------------------------------ futures
class FuturesTickerData(Wire):
    bestBidPrice: Price
    bestBidSize: Size  # contracts (lots)
    bestAskPrice: Price
    bestAskSize: Size  # contracts
    ts: EpochNs  # push time (ns)


class FuturesTicker(Tagged, tag="tickerV2"):
    data: FuturesTickerData


class ExecutionData(Wire):
    side: Side  # taker side
    size: Size  # contracts (lots): base = size x multiplier
    price: Price
    tradeId: Any
    ts: EpochNs  # match time (ns)


class FuturesExecution(Tagged, tag="match"):
    data: ExecutionData


class InstrumentFrame(Tagged, tag="mark.index.price"):
    """`/contract/instrument:{sym}` mark and index price, pushed every second: the futures
    connection's heartbeat (no record)."""


class FundingRateFrame(Tagged, tag="funding.rate"):
    """`/contract/instrument:{sym}` funding rate updates (REST gives funding: no record)."""


class BookFrame(Tagged, tag="level2"):
    """A depth frame (`level2Depth50`, book.py) that reached the record parser: ignored."""


FRAME: Final = (
    SpotTicker | SpotMatch | CandleUpdate | CandleAdd | SnapshotFrame | FuturesTicker
    | FuturesExecution | InstrumentFrame | FundingRateFrame | BookFrame
)  # fmt: skip
SUBJECTS: Final = frozenset(
    {"trade.ticker", "trade.l3match", "trade.candles.update", "trade.candles.add",
     "trade.snapshot", "tickerV2", "match", "mark.index.price", "funding.rate", "level2"}
)  # fmt: skip
