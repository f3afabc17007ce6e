"""The `exchange.large_trades` stream: trades and liquidations above seed 002's USD thresholds.

One entry per large trade, written by the engine's large-trade detector and read by the
storage writer (consumer group `storage`, table `large_trades`) and anyone with redis-cli.
`symbol` is the venue's own symbol (`BTC-USD`, `BTC-PERPETUAL`), as seed 002's rows show it;
`canonical_symbol` is the product's name for the instrument (`BTCUSD`, `BTCUSD.INV`). `size`
is in base units (the venue parser has already applied the contract size), so `value_usd` =
`price` x `size` x `quote_usd` (the quote asset's USD price; 1 for USD, USDT, USDC unless a
venue publishes a stablecoin's own USD price). Liquidations carry no venue trade id: theirs is
built from the event (`liq-<ms>-<side>-<price>-<size>`), so a replay gives the same row key.

Pure: imports only the common schema helpers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from microservices.common.errors import SchemaError
from microservices.common.schema_fields import FieldSpec, decode_fields, encode_value
from microservices.common.schemas import Fields, Schema

LARGE_TRADE_FIELDS: Final = (
    FieldSpec("exchange", "exchange", "venue"),  # venue id: coinbase, deribit, binance_futures
    FieldSpec("market", "market", "market"),  # spot or perp
    FieldSpec("symbol", "symbol", "str"),  # the venue's symbol: BTC-USD, BTC-PERPETUAL
    FieldSpec("canonical_symbol", "canonical_symbol", "symbol"),  # BTCUSD, BTCUSD.INV
    FieldSpec("group", "group", "symbol"),  # the followed symbol: BTCUSDT
    FieldSpec("quote", "quote", "str"),  # the instrument's quote asset (USD, USDT, BTC)
    FieldSpec("trade_id", "trade_id", "str"),  # venue trade id; liquidations: liq-<...>
    FieldSpec("timestamp", "ts_ms", "ms"),  # exchange event time, unix seconds
    FieldSpec("received_at", "recv_ms", "ms"),  # when the collector received it
    FieldSpec("price", "price", "price"),  # quote units
    FieldSpec("size", "size", "pos"),  # base units (contracts x contract size)
    FieldSpec("side", "side", "side"),  # taker side; liquidations: side of the forced order
    FieldSpec("value_usd", "value_usd", "pos"),  # price x size x quote_usd
    FieldSpec("quote_usd", "quote_usd", "pos"),  # USD per unit of the quote used for value_usd
    FieldSpec("threshold_usd", "threshold_usd", "pos"),  # the threshold it crossed
    FieldSpec("is_liquidation", "is_liquidation", "bool"),
)


@dataclass(slots=True, kw_only=True)
class LargeTrade:
    """One `exchange.large_trades` entry (field comments: `LARGE_TRADE_FIELDS`)."""

    exchange: str
    market: str
    symbol: str
    canonical_symbol: str
    group: str
    quote: str
    trade_id: str
    ts_ms: int
    recv_ms: int
    price: float
    size: float
    side: str
    value_usd: float
    quote_usd: float
    threshold_usd: float
    is_liquidation: bool

    @property
    def row_id(self) -> str:
        """Seed 002's primary key of the `large_trades` row: `{exchange}_{symbol}_{trade_id}`."""
        return f"{self.exchange}_{self.symbol}_{self.trade_id}"


def liquidation_trade_id(ts_ms: int, side: str, price: float, size: float) -> str:
    """A stable id for a liquidation (venues publish none): the same event, the same id."""
    return f"liq-{ts_ms}-{side}-{price!r}-{size!r}"


def encode_large_trade(trade: LargeTrade) -> Fields:
    return {spec.wire: encode_value(spec, getattr(trade, spec.attr)) for spec in LARGE_TRADE_FIELDS}


def decode_large_trade(entry: dict[str, str]) -> LargeTrade:
    trade = LargeTrade(**decode_fields(entry, LARGE_TRADE_FIELDS))
    expected = trade.price * trade.size * trade.quote_usd
    if abs(trade.value_usd - expected) > 1e-6 * expected + 0.01:
        raise SchemaError(
            f"field 'value_usd': {trade.value_usd} is not price x size x quote_usd ({expected})"
        )
    return trade


LARGE_TRADES: Final[Schema[LargeTrade]] = Schema(encode_large_trade, decode_large_trade)
