"""SQL of seed 002's three queries and the order-book snapshots, and their summaries.

Each query returns the newest rows first (`ORDER BY timestamp DESC LIMIT n`, served by the
tables' timestamp and symbol indexes). Summaries describe the rows returned, so a client can
recompute them:
- large trades: `total_value_usd` (sum of value_usd), `liquidation_count`, `exchanges`,
  `symbols` (venue symbols, sorted);
- funding rates: `average_rate` (mean of `rate`, each venue's fraction per its own funding
  interval, as the seed shows it), `average_rate_percent` (x 100) and, beside them,
  `average_rate_8h_percent` (the mean of each row's 8-hour equivalent in percent, rate x 800 /
  interval hours, the unit of the engine's funding fields);
- open interest: `total_oi_usd`, the sum over the newest row of each (exchange, symbol)
  among those returned (summing every row would count one venue's position many times).

Pure: builds SQL text and parameters, turns fetched rows into JSON-ready dicts; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import orjson

from microservices.ai_engine.exchange_data.symbols import SymbolFilter

LARGE_TRADE_COLUMNS: Final = (
    "exchange, symbol, canonical_symbol, side, price, size, value_usd, timestamp, trade_id, "
    "is_liquidation, metadata"
)
FUNDING_COLUMNS: Final = (
    "exchange, symbol, canonical_symbol, rate, predicted_rate, timestamp, next_funding_time, "
    "metadata"
)
OI_COLUMNS: Final = (
    "exchange, symbol, canonical_symbol, open_interest, open_interest_usd, timestamp, metadata"
)
ORDERBOOK_COLUMNS: Final = (
    "exchange, symbol, canonical_symbol, bids, asks, timestamp, sequence, metadata"
)
JSON_COLUMNS: Final = frozenset({"metadata", "bids", "asks", "venues", "excluded"})  # JSONB
DEFAULT_INTERVAL_H: Final = 8.0  # funding rows without a stated interval


@dataclass(slots=True)
class Where:
    """WHERE clauses with numbered parameters ($1, $2, ...)."""

    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, template: str, *values: Any) -> None:
        """`template` with `{}` for each value's placeholder."""
        marks = []
        for value in values:
            self.params.append(value)
            marks.append(f"${len(self.params)}")
        self.clauses.append(template.format(*marks))

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "TRUE"

    def next_mark(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"


@dataclass(frozen=True, slots=True)
class Filters:
    """The filters every query shares; `since` is a timezone-aware datetime."""

    since: datetime
    limit: int
    symbol: SymbolFilter | None = None
    exchange: str | None = None


def common_where(filters: Filters, time_column: str = "timestamp") -> Where:
    where = Where()
    where.add(f"{time_column} >= {{}}", filters.since)
    if filters.exchange is not None:
        where.add("exchange = {}", filters.exchange)
    sym = filters.symbol
    if sym is not None and sym.exact is not None:
        where.add("(symbol = {} OR canonical_symbol = {})", sym.exact, sym.exact)
    elif sym is not None:
        if len(sym.groups) == 1:
            where.add("symbol_group = {}", sym.groups[0])
        else:
            where.add("symbol_group = ANY({}::text[])", list(sym.groups))
        if sym.perp_only:
            where.add("metadata->>'market' = {}", "perp")
    return where


def _select(table: str, columns: str, where: Where, limit: int) -> tuple[str, list[Any]]:
    mark = where.next_mark(limit)
    sql = f"SELECT {columns} FROM {table} WHERE {where.sql()} ORDER BY timestamp DESC LIMIT {mark}"
    return sql, where.params


def large_trades_query(
    filters: Filters, min_value_usd: float | None, only_liquidations: bool
) -> tuple[str, list[Any]]:
    where = common_where(filters)
    if min_value_usd is not None:
        where.add("value_usd >= {}", Decimal(repr(min_value_usd)))
    if only_liquidations:
        where.clauses.append("is_liquidation = TRUE")
    return _select("large_trades", LARGE_TRADE_COLUMNS, where, filters.limit)


def funding_query(filters: Filters) -> tuple[str, list[Any]]:
    return _select("funding_rates", FUNDING_COLUMNS, common_where(filters), filters.limit)


def open_interest_query(filters: Filters) -> tuple[str, list[Any]]:
    return _select("open_interest", OI_COLUMNS, common_where(filters), filters.limit)


def orderbooks_query(filters: Filters) -> tuple[str, list[Any]]:
    return _select("exchange_orderbooks", ORDERBOOK_COLUMNS, common_where(filters), filters.limit)


# ------------------------------------------------------------------------------ rows -> JSON


def iso_z(value: datetime | None) -> str | None:
    """An aware datetime as ISO 8601 UTC with Z; milliseconds only when there are some."""
    if value is None:
        return None
    ms = value.microsecond // 1000
    base = value.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{ms:03d}Z" if ms else f"{base}Z"


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _json(value: Any) -> Any:
    """A JSONB column (asyncpg returns its text) as a JSON value."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def row_item(row: Mapping[str, Any]) -> dict[str, Any]:
    """One fetched row as JSON: numbers as floats, times as ISO Z, JSONB decoded."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, Decimal):
            out[key] = float(value)
        elif isinstance(value, datetime):
            out[key] = iso_z(value)
        elif key in JSON_COLUMNS:
            out[key] = _json(value)
        else:
            out[key] = value
    return out


def _names(items: Sequence[Mapping[str, Any]], key: str) -> list[str]:
    return sorted({str(item[key]) for item in items})


def large_trades_summary(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "total_value_usd": round(math.fsum(item["value_usd"] for item in items), 2),
        "liquidation_count": sum(1 for item in items if item["is_liquidation"]),
        "exchanges": _names(items, "exchange"),
        "symbols": _names(items, "symbol"),
    }


def funding_8h_percent(item: Mapping[str, Any]) -> float:
    """A row's rate as percent per 8 h: rate x 800 / its funding interval in hours."""
    meta = item.get("metadata") or {}
    interval = meta.get("funding_interval_h") or DEFAULT_INTERVAL_H
    return float(item["rate"]) * 800.0 / float(interval)


def funding_summary(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    rates = [float(item["rate"]) for item in items]
    average = math.fsum(rates) / len(rates) if rates else None
    eight_h = [funding_8h_percent(item) for item in items]
    return {
        "average_rate": average,
        "average_rate_percent": None if average is None else average * 100.0,
        "average_rate_8h_percent": math.fsum(eight_h) / len(eight_h) if eight_h else None,
        "exchanges": _names(items, "exchange"),
        "symbols": _names(items, "symbol"),
    }


def open_interest_summary(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    newest: dict[tuple[str, str], Mapping[str, Any]] = {}
    for item in items:  # newest first: the first row of each venue symbol is its latest
        newest.setdefault((item["exchange"], item["symbol"]), item)
    values = [item["open_interest_usd"] for item in newest.values()]
    return {
        "total_oi_usd": round(math.fsum(v for v in values if v is not None), 2),
        "positions": len(newest),
        "unpriced_positions": sum(1 for v in values if v is None),
        "exchanges": _names(items, "exchange"),
        "symbols": _names(items, "symbol"),
    }


def orderbooks_summary(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        "latest_timestamp": items[0]["timestamp"] if items else None,
        "exchanges": _names(items, "exchange"),
        "symbols": _names(items, "symbol"),
    }
