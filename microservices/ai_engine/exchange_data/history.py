"""`/api/v1/history/{symbol}`: the stored history of one symbol, by pages, as JSON, CSV or
Parquet.

Kinds: `normalized` (exchange.normalized snapshots, keyed by followed symbol and time),
`features` (exchange.features vectors, likewise) and `ohlc` (closed klines per venue, keyed by
venue, venue symbol, interval and open time). Rows come oldest first within [start, end);
pages are keyset pages: `next_cursor` (also the `X-Next-Cursor` header of CSV and Parquet)
is an opaque token holding the last row's key, and passing it as `cursor` continues after it,
so pages never skip or repeat a row while new rows arrive. `null` / no header: the last page.

Pure: SQL text, cursors and rendering; no I/O.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

import orjson

from microservices.ai_engine.exchange_data.queries import Where, iso_z, row_item
from microservices.ai_engine.exchange_data.symbols import SymbolFilter
from microservices.common.clock import parse_iso_ms

Kind = Literal["normalized", "features", "ohlc"]


@dataclass(frozen=True, slots=True)
class KindSpec:
    table: str
    time_column: str
    keys: tuple[str, ...]  # after the time column: the rest of the row's unique key
    group_column: str  # where a followed symbol is matched


KINDS: Final[dict[str, KindSpec]] = {
    "normalized": KindSpec("normalized", "timestamp", ("symbol",), "symbol"),
    "features": KindSpec("features", "timestamp", ("symbol",), "symbol"),
    "ohlc": KindSpec("ohlc", "open_time", ("exchange", "symbol", "interval"), "symbol_group"),
}


class BadParameter(ValueError):
    """A query parameter that cannot be used; `field` names it (the API answers 422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def parse_time(field: str, text: str) -> datetime:
    """ISO 8601 ('2026-01-02T03:04:05Z', a date, an offset) or unix seconds or milliseconds
    (numbers above 1e11 are milliseconds) -> an aware UTC datetime."""
    stripped = text.strip()
    try:
        if stripped.replace(".", "", 1).isdigit():
            number = float(stripped)
            ms = number if number > 1e11 else number * 1000
            return datetime.fromtimestamp(ms / 1000, tz=UTC)
        return datetime.fromtimestamp(parse_iso_ms(stripped) / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise BadParameter(field, f"not an ISO 8601 time or unix seconds: {text[:40]!r}") from None


def encode_cursor(spec: KindSpec, row: Mapping[str, Any]) -> str:
    key = [row[spec.time_column].isoformat(), *(row[k] for k in spec.keys)]
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode().rstrip("=")


def decode_cursor(spec: KindSpec, token: str) -> list[Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        key = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(key, list) or len(key) != 1 + len(spec.keys):
            raise ValueError("wrong length")
        first = datetime.fromisoformat(key[0])
        if first.tzinfo is None or not all(isinstance(k, str) for k in key[1:]):
            raise ValueError("wrong types")
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise BadParameter("cursor", "not a cursor of this kind (use next_cursor)") from None
    return [first, *key[1:]]


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    kind: Kind
    symbol: SymbolFilter
    start: datetime
    end: datetime
    limit: int
    cursor: str | None = None
    exchange: str | None = None
    interval: str | None = None


def history_sql(q: HistoryQuery) -> tuple[str, list[Any]]:
    """One page (limit + 1 rows: the extra one says whether another page follows)."""
    spec = KINDS[q.kind]
    where = Where()
    where.add(f"{spec.time_column} >= {{}}", q.start)
    where.add(f"{spec.time_column} < {{}}", q.end)
    if q.symbol.exact is not None and q.kind == "ohlc":
        where.add("(symbol = {} OR canonical_symbol = {})", q.symbol.exact, q.symbol.exact)
    else:
        names = list(q.symbol.groups) or [q.symbol.exact or ""]
        where.add(f"{spec.group_column} = ANY({{}}::text[])", names)
        if q.symbol.perp_only and q.kind == "ohlc":
            raise BadParameter("symbol", "ohlc rows do not record the market; use BTCUSDT")
    if q.kind == "ohlc" and q.exchange is not None:
        where.add("exchange = {}", q.exchange)
    if q.kind == "ohlc" and q.interval is not None:
        where.add("interval = {}", q.interval)
    order = ", ".join((spec.time_column, *spec.keys))
    if q.cursor is not None:
        key = decode_cursor(spec, q.cursor)
        marks = ", ".join(where.next_mark(value) for value in key)
        where.clauses.append(f"({order}) > ({marks})")
    limit = where.next_mark(q.limit + 1)
    sql = f"SELECT * FROM {spec.table} WHERE {where.sql()} ORDER BY {order} LIMIT {limit}"
    return sql, where.params


def page(
    q: HistoryQuery, rows: Sequence[Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], str | None]:
    """The page's rows as JSON-ready dicts and the cursor of the next page (None: last)."""
    spec = KINDS[q.kind]
    shown = list(rows[: q.limit])
    token = encode_cursor(spec, shown[-1]) if len(rows) > q.limit and shown else None
    return [row_item(row) for row in shown], token


def to_csv(items: Sequence[Mapping[str, Any]]) -> str:
    """Header + one line per row; JSON columns (venues, excluded) as JSON text."""
    if not items:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(items[0]), lineterminator="\n")
    writer.writeheader()
    for item in items:
        writer.writerow({k: _cell(v) for k, v in item.items()})
    return out.getvalue()


def _cell(value: Any) -> Any:
    return orjson.dumps(value).decode() if isinstance(value, dict | list) else value


def to_parquet(items: Sequence[Mapping[str, Any]]) -> bytes:
    """A Parquet file (pyarrow): times as UTC timestamps, JSON columns as JSON text."""
    import pandas as pd

    frame = pd.DataFrame([{k: _cell(v) for k, v in item.items()} for item in items])
    for column in ("timestamp", "open_time"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    buffer = io.BytesIO()
    frame.to_parquet(buffer, engine="pyarrow", index=False)
    return buffer.getvalue()


def describe(q: HistoryQuery) -> dict[str, Any]:
    return {
        "kind": q.kind, "symbol_match": q.symbol.describe(), "start": iso_z(q.start),
        "end": iso_z(q.end), "limit": q.limit, "cursor": q.cursor, "exchange": q.exchange,
        "interval": q.interval,
    }  # fmt: skip
