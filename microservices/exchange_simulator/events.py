"""What the synthetic market emits (trades, quotes, bars, marks, liquidations) and its
instruments. Plain immutable values; the exchange packages' dialects render them as frames.
"""

from __future__ import annotations

import math
import zlib
from typing import Final, NamedTuple

from microservices.exchange_simulator.bars import Bar

FUNDING_INTERVAL_MS: Final = 8 * 3_600_000
KNOWN_START: Final = {"BTCUSDT": 65_000.0, "ETHUSDT": 3_500.0, "SOLUSDT": 150.0}


class Instrument(NamedTuple):
    symbol: str
    start_price: float
    price_dp: int  # decimals of a price tick
    qty_dp: int  # decimals of a quantity step
    tick: float
    step: float


class Trade(NamedTuple):
    venue: str
    symbol: str
    ts_ms: int
    trade_id: int
    price: float
    qty: float
    taker_buy: bool  # the aggressor bought (Binance m=false, Bybit S=Buy, Coinbase side=sell)
    seq: int  # venue sequence number of the match


class Quote(NamedTuple):
    venue: str
    symbol: str
    ts_ms: int
    update_id: int
    bid: float
    bid_qty: float
    ask: float
    ask_qty: float


class BarUpdate(NamedTuple):
    venue: str
    symbol: str
    ts_ms: int
    bar: Bar
    closed: bool


class Mark(NamedTuple):
    venue: str
    symbol: str
    ts_ms: int
    mark: float
    index_price: float
    funding_rate: float  # per funding interval (8 h)
    next_funding_ms: int
    open_interest: float  # base units


class Liquidation(NamedTuple):
    venue: str
    symbol: str
    ts_ms: int
    long_liquidated: bool  # Binance S=SELL, Bybit S=Buy
    price: float
    qty: float


class DepthDiff(NamedTuple):
    """The L2 levels of one venue and symbol that changed in one market step."""

    venue: str
    symbol: str
    ts_ms: int
    first_id: int  # first update id covered (Binance U)
    last_id: int  # last update id covered (Binance u; the book's id afterwards)
    prev_id: int  # last_id of the previous diff (Binance futures pu)
    bids: tuple[tuple[float, float], ...]  # (price, new size; 0.0 = removed), best first
    asks: tuple[tuple[float, float], ...]


Event = Trade | Quote | BarUpdate | Mark | Liquidation | DepthDiff


def unit(text: str) -> float:
    """A deterministic number in [0, 1) from a name."""
    return zlib.crc32(text.encode()) / 2**32


def make_instrument(symbol: str, start_prices: dict[str, float] | None = None) -> Instrument:
    price = (start_prices or {}).get(symbol) or KNOWN_START.get(symbol)
    if price is None:  # 0.1 .. 1000, four significant digits, from the name
        raw = 10 ** (-1 + 4 * unit(symbol))
        price = round(raw, 3 - math.floor(math.log10(raw)))
    magnitude = math.floor(math.log10(price))
    price_dp = max(2, 6 - magnitude)
    qty_dp = min(8, max(0, magnitude - 1))
    return Instrument(symbol, price, price_dp, qty_dp, 10.0**-price_dp, 10.0**-qty_dp)


def next_funding_ms(now_ms: int, interval_ms: int = FUNDING_INTERVAL_MS) -> int:
    return now_ms - now_ms % interval_ms + interval_ms
