"""Stream records -> table rows (tuples in `tables.Table.columns` order). Pure: no I/O.

Keys follow seed 002: `{exchange}_{symbol}_{trade_id}` for large trades and
`{exchange}_{symbol}_{timestamp}` (epoch ms) for order books, funding and open interest, where
`symbol` is the venue's spelling. The other tables key on their natural columns (see the
migration). Only closed klines become `ohlc` rows (an open bar changes until it closes, and
rows are written once); trades, tickers and liquidations of `exchange.raw` are not stored here
(large ones arrive through `exchange.large_trades`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from microservices.common.derived_schemas import FEATURE_NAMES, VENUE_FIELDS
from microservices.common.records import (
    ExitAlert,
    ExitStatus,
    FeatureVector,
    Funding,
    Kline,
    NormalizedSnapshot,
    OpenInterest,
)
from microservices.storage import tables
from microservices.storage.tables import Table

Row = tuple[Any, ...]
TableRow = tuple[Table, Row]


@dataclass(frozen=True, slots=True)
class Item:
    """One row to store and the stream entry it came from ("" for none)."""

    entry_id: str
    table: Table
    row: Row


EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def ts(ms: int) -> datetime:
    """Epoch milliseconds -> an aware UTC datetime (what asyncpg writes to TIMESTAMPTZ)."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _metadata(**values: Any) -> str:
    return dumps({k: v for k, v in values.items() if v is not None})


def funding_row(rec: Funding) -> Row:
    return (
        f"{rec.exchange}_{rec.venue_symbol}_{rec.ts_ms}", rec.exchange, rec.venue_symbol,
        rec.symbol, rec.group, rec.funding_rate, None, ts(rec.ts_ms),
        None if rec.next_funding_time_ms is None else ts(rec.next_funding_time_ms),
        _metadata(market=rec.market, quote=rec.quote or None,
                  funding_interval_h=rec.funding_interval_h, mark_price=rec.mark_price,
                  index_price=rec.index_price),
    )  # fmt: skip


def open_interest_row(rec: OpenInterest) -> Row:
    return (
        f"{rec.exchange}_{rec.venue_symbol}_{rec.ts_ms}", rec.exchange, rec.venue_symbol,
        rec.symbol, rec.group, rec.open_interest, rec.open_interest_usd, ts(rec.ts_ms),
        _metadata(market=rec.market, quote=rec.quote or None),
    )  # fmt: skip


def ohlc_row(rec: Kline) -> Row:
    return (
        rec.exchange, rec.venue_symbol, rec.symbol, rec.group, rec.interval,
        ts(rec.open_time_ms), rec.open, rec.high, rec.low, rec.close, rec.volume, ts(rec.ts_ms),
    )  # fmt: skip


def normalized_row(snap: NormalizedSnapshot) -> Row:
    venues = {}
    for venue, quote in snap.venues.items():
        fields = {name: getattr(quote, name) for name in VENUE_FIELDS}
        venues[venue] = {"price": quote.price, "age_ms": quote.age_ms} | {
            k: v for k, v in fields.items() if v is not None
        }
    floats = tuple(getattr(snap, name) for name in tables.NORMALIZED_FLOAT_COLUMNS)
    return (
        snap.symbol, ts(snap.ts_ms), *floats, snap.num_exchanges, snap.best_bid,
        snap.best_bid_exchange, snap.best_ask, snap.best_ask_exchange, snap.best_bid_size,
        snap.best_ask_size, dumps(venues), dumps(snap.excluded),
    )  # fmt: skip


def features_row(vector: FeatureVector) -> Row:
    values = vector.values
    return (vector.symbol, ts(vector.ts_ms), *(values.get(name) for name in FEATURE_NAMES))


def status_row(status: ExitStatus) -> Row:
    floats = tuple(getattr(status, name) for name in tables.STATUS_FLOAT_COLUMNS)
    return (
        status.symbol, ts(status.ts_ms), status.cross_exchange_active, *floats,
        status.use_trailing, status.reasoning, status.total_reads, status.fail_count,
    )  # fmt: skip


def alert_row(alert: ExitAlert) -> Row:
    return (alert.symbol, ts(alert.ts_ms), alert.type, alert.reason, alert.fail_count)


def raw_rows(record: Any) -> list[TableRow]:
    """The rows of one `exchange.raw` record: funding, open interest, closed klines; else []."""
    if isinstance(record, Funding):
        return [(tables.FUNDING_RATES, funding_row(record))]
    if isinstance(record, OpenInterest):
        return [(tables.OPEN_INTEREST, open_interest_row(record))]
    if isinstance(record, Kline) and record.closed:
        return [(tables.OHLC, ohlc_row(record))]
    return []


def large_trade_row(trade: Any) -> Row:
    """A `LargeTrade` (microservices.common.large_trade_schema) -> a `large_trades` row."""
    return (
        f"{trade.exchange}_{trade.symbol}_{trade.trade_id}", trade.exchange, trade.symbol,
        trade.canonical_symbol, trade.group, trade.side, trade.price, trade.size,
        trade.value_usd, ts(trade.ts_ms), trade.trade_id, trade.is_liquidation,
        _metadata(market=trade.market, quote=trade.quote, quote_usd=trade.quote_usd,
                  threshold_usd=trade.threshold_usd, received_at_ms=trade.recv_ms),
    )  # fmt: skip


def orderbook_row(
    exchange: str, venue_symbol: str, canonical: str, group: str, ts_ms: int,
    bids: list[list[float]], asks: list[list[float]], sequence: int | None,
    metadata: dict[str, Any],
) -> Row:  # fmt: skip
    return (
        f"{exchange}_{venue_symbol}_{ts_ms}", exchange, venue_symbol, canonical, group,
        dumps(bids), dumps(asks), ts(ts_ms), sequence, dumps(metadata),
    )  # fmt: skip
