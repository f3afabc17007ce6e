"""Typed records carried by the streams; pure data, no I/O.

Raw records are what venue parsers return and what `exchange.raw` carries (one class per
`type`). Times are integer epoch milliseconds: `ts_ms` is the exchange's event time, `recv_ms`
when our process received the frame. Sides use the taker convention (`buy` = taker bought).
They are msgspec Structs, built per tick on the hot path: their C constructor costs ~0.05 us
with positional arguments (the parsers' builders, exchanges/_records.py) against ~0.2 us for
the slotted dataclasses they were; with keywords msgspec is as fast up to 15 of them and ~0.5
us from 16 (a Kline has 16 fields). Fields are positional in declaration order (the header,
then the type's own); everything else passes them by keyword. Not frozen (tests edit them);
treat them as immutable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

import msgspec

Market = Literal["spot", "perp", "future"]  # future: dated contracts (CME settlements)
Side = Literal["buy", "sell"]
RecordType = Literal[
    "kline", "trade", "ticker", "funding", "open_interest", "liquidation", "volatility_index",
    "options_summary", "settlement",
]  # fmt: skip

RECORD_TYPES: tuple[RecordType, ...] = (
    "kline",
    "trade",
    "ticker",
    "funding",
    "open_interest",
    "liquidation",
    "volatility_index",
    "options_summary",
    "settlement",
)


class RawRecord(msgspec.Struct, gc=False):
    """Fields every `exchange.raw` entry has."""

    type: ClassVar[RecordType]
    exchange: str  # venue id: binance, binance_futures, bybit, bybit_spot, coinbase, ...
    market: Market
    symbol: str  # the instrument's canonical name, e.g. BTCUSDT, BTCUSD (Coinbase BTC-USD)
    venue_symbol: str  # as the venue spells it, e.g. BTC-USD
    group: str  # the followed symbol it is aggregated under, e.g. BTCUSDT for all of the above
    quote: str  # the real quote asset, e.g. USDT, USD; "" in entries of collectors before it
    ts_ms: int  # exchange event time
    recv_ms: int  # time our process received the frame


class Kline(RawRecord):
    type: ClassVar[RecordType] = "kline"
    open_time_ms: int
    interval: str  # "1m"
    open: float
    high: float
    low: float
    close: float
    volume: float  # base-asset units
    closed: bool


class Trade(RawRecord):
    type: ClassVar[RecordType] = "trade"
    price: float
    size: float  # base-asset units
    side: Side  # taker side
    trade_id: str


class Ticker(RawRecord):
    type: ClassVar[RecordType] = "ticker"
    bid: float
    bid_size: float
    ask: float
    ask_size: float
    last: float | None = None


class Funding(RawRecord):
    type: ClassVar[RecordType] = "funding"
    funding_rate: float  # per funding interval, as a fraction (0.0001 = 0.01 %)
    funding_interval_h: float
    next_funding_time_ms: int | None = None
    mark_price: float | None = None
    index_price: float | None = None


class OpenInterest(RawRecord):
    type: ClassVar[RecordType] = "open_interest"
    open_interest: float  # contracts in base-asset units
    open_interest_usd: float | None = None


class Liquidation(RawRecord):
    type: ClassVar[RecordType] = "liquidation"
    price: float
    size: float
    side: Side  # side of the forced order: "sell" means a long position was liquidated


class VolatilityIndex(RawRecord):
    """A venue's implied-volatility index of a currency (Deribit DVOL). Header: symbol and
    group `<CUR>-DVOL`, venue_symbol the index name (`btc_usd`), quote USD."""

    type: ClassVar[RecordType] = "volatility_index"
    currency: str  # the index's base currency: BTC, ETH
    volatility: float  # annualised implied volatility in percent (129.36 = 129.36 %)


class OptionsSummary(RawRecord):
    """A venue's option chain of one currency summed (Deribit get_book_summary_by_currency,
    `deribit/options.py`). Header: symbol and group `<CUR>-OPTIONS`, venue_symbol the currency,
    quote USD; ts_ms the newest row's time."""

    type: ClassVar[RecordType] = "options_summary"
    currency: str  # BTC, ETH
    instruments: int  # live option instruments summed
    open_interest: float  # contracts (1 contract = 1 unit of the currency)
    open_interest_usd: float  # open_interest x index_price
    volume_24h: float  # contracts traded over 24 h
    volume_24h_usd: float  # as the venue values it
    index_price: float  # the currency's USD index
    put_call_oi_ratio: float | None = None  # None when no call has open interest
    put_call_volume_ratio: float | None = None  # None when no call traded


class Settlement(RawRecord):
    """A dated futures contract's daily settlement (CME, `exchanges/cme/`): delayed data, polled
    a few times a day, never a live quote. Header: symbol the canonical contract
    (`BTC-CME-2026Z`), venue_symbol the exchange's code (`BTCZ6`), group the followed symbol it
    is compared with (`BTCUSDT`), quote USD; ts_ms the settlement time of the trade date."""

    type: ClassVar[RecordType] = "settlement"
    product: str  # exchange product code: BTC, MBT, ETH, MET
    trade_date: str  # the trade date settled, YYYY-MM-DD
    settlement: float  # settlement price, USD per base unit
    volume: float  # contracts traded on the trade date
    open_interest: float  # contracts open at the end of the trade date
    contract_size: float  # base units per contract (BTC 5, MBT 0.1, ETH 50, MET 0.1)
    expiry_ms: int  # last trading time of the contract
    delayed: bool = True  # published after the fact: never fast-path data
    front: bool = False  # the product's front month on this trade date (roll rule)
    reference_price: float | None = None  # cross-venue spot reference at ts_ms (basis)


AnyRaw = Kline | Trade | Ticker | Funding | OpenInterest | Liquidation | VolatilityIndex


@dataclass(slots=True, kw_only=True)
class VenueQuote:
    """One venue's contribution to a normalized snapshot."""

    price: float
    bid: float | None = None
    ask: float | None = None
    bid_size: float | None = None
    ask_size: float | None = None
    volume: float | None = None  # traded base volume over the aggregator's volume window
    volume_usd: float | None = None  # that volume in USD; None without a USD price of the quote
    funding_8h: float | None = None  # funding in percent per 8 h (0.01 = 0.01 %), perps only
    # latest open interest in USD: contracts x contract size x mark (else venue) price, through
    # the quote's USD price (inverse: contracts x contract size); None without a USD price
    open_interest_usd: float | None = None
    # depth of the venue's fresh L2 book within 10 / 50 bps of its mid, in USD (the
    # collector's quote-unit depth x the quote's USD price); None without a fresh book or a
    # USD price of the quote
    bid_depth_10bps: float | None = None
    ask_depth_10bps: float | None = None
    bid_depth_50bps: float | None = None
    ask_depth_50bps: float | None = None
    imbalance_10bps: float | None = None  # (bid - ask) / (bid + ask) of the 10 bps depths
    age_ms: int = 0  # now - receive time of the observation the price came from


@dataclass(slots=True, kw_only=True)
class FuturesBasis:
    """A front month's settlement against the cross-venue spot reference at settlement time."""

    contract: str  # canonical contract, e.g. BTC-CME-2026Z
    trade_date: str  # YYYY-MM-DD
    settlement: float  # F, USD
    reference: float  # S, USD
    basis_usd: float  # F - S
    basis_pct: float  # (F - S) / S * 100
    days_to_expiry: float  # from settlement time to expiry
    basis_pct_annualised: float | None  # basis_pct * 365 / days_to_expiry; None if expired


@dataclass(slots=True, kw_only=True)
class NormalizedSnapshot:
    """One `exchange.normalized` entry: the cross-venue state of a symbol at `ts_ms`."""

    symbol: str
    ts_ms: int
    avg_price: float
    median_price: float
    price_divergence: float  # population std of included venue prices, quote units
    exchange_divergence: float  # (max - min) / median, a fraction
    # Funding in percent per 8 h (0.015 = 0.015 %). funding_delta: max - min across perp
    # venues with the sign of their mean (> 0: longs pay; 0 with fewer than two perp venues).
    funding_delta: float
    avg_funding_rate: float  # mean funding across perp venues, percent per 8 h (0 if none)
    volatility_factor: float  # short-window realized vol / long-window, capped
    num_exchanges: int
    venues: dict[str, VenueQuote] = field(default_factory=dict)
    best_bid: float | None = None
    best_bid_exchange: str | None = None
    best_ask: float | None = None
    best_ask_exchange: str | None = None
    # base units quoted at best_bid / best_ask: summed over the venues at exactly that price
    best_bid_size: float | None = None
    best_ask_size: float | None = None
    arb_bps: float = 0.0  # (best_bid - best_ask) / mid * 1e4 when crossed, else 0
    excluded: dict[str, str] = field(default_factory=dict)  # venue -> "stale" | "outlier"
    # the group's dated-futures front month against spot (CME settlements, delayed; formulas
    # in common/futures_basis.py); None without a settlement that carried a reference price
    basis: FuturesBasis | None = None
    # the latest DVOL (Deribit's implied-volatility index, percent) of the group's base
    # currency (ai_engine/aggregation/dvol.py); None when there is none or it is older than 60 s
    dvol: float | None = None


@dataclass(slots=True, kw_only=True)
class FeatureVector:
    """One `exchange.features` entry."""

    symbol: str
    ts_ms: int
    values: dict[str, float]


@dataclass(slots=True, kw_only=True)
class ExitStatus:
    """One `exitbrain.status` entry (seed 001 schema plus the symbol it is about)."""

    symbol: str
    ts_ms: int
    cross_exchange_active: bool
    data_age_seconds: float
    volatility_factor: float
    exchange_divergence: float
    funding_delta: float  # as in exchange.normalized: signed spread, percent per 8 h
    atr_multiplier: float
    tp_multiplier: float
    sl_multiplier: float
    use_trailing: bool
    reasoning: str
    total_reads: int
    fail_count: int


@dataclass(slots=True, kw_only=True)
class NewListing:
    """One `exchange.listings` entry: an instrument a venue newly lists (seen by a refresh)."""

    exchange: str  # venue id
    venue_symbol: str
    symbol: str  # canonical name
    group: str  # the followed symbol it would be aggregated under
    base: str
    quote: str
    market: str  # instrument market type: spot, perpetual, future, option
    status: str  # trading, pending, halted
    ts_ms: int  # when the collector's refresh saw it first
    tick_size: float | None = None
    lot_size: float | None = None


AlertType = Literal[
    "FALLBACK_TO_LOCAL", "RECOVERED", "DATA_STALE", "EXCHANGE_DOWN", "PRICE_DIVERGENCE"
]
ALERT_TYPES: tuple[AlertType, ...] = (
    "FALLBACK_TO_LOCAL",
    "RECOVERED",
    "DATA_STALE",
    "EXCHANGE_DOWN",
    "PRICE_DIVERGENCE",
)


@dataclass(slots=True, kw_only=True)
class ExitAlert:
    """One `exitbrain.alerts` entry."""

    symbol: str
    ts_ms: int
    type: AlertType
    reason: str
    fail_count: int
