"""`GET /api/v1/history/{symbol}?kind=normalized|features|ohlc&start=&end=&cursor=&limit=
&format=json|csv|parquet` (rules in `history`). 422 names the bad field; 503 without a
database. CSV and Parquet are files (`Content-Disposition: attachment`) whose next page is
named by the `X-Next-Cursor` header."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Literal

from fastapi import FastAPI, Path, Query
from fastapi.responses import JSONResponse, Response

from microservices.ai_engine.exchange_data import history
from microservices.ai_engine.exchange_data.api import envelope, json_response
from microservices.ai_engine.exchange_data.database import UNAVAILABLE, QueryDb
from microservices.ai_engine.exchange_data.symbols import SYMBOL_PATTERN, resolve_symbol
from microservices.common.clock import now_ms

MAX_PAGE: Final = 10_000
DEFAULT_SPAN: Final = timedelta(hours=24)
MEDIA: Final = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


def unprocessable(field: str, message: str) -> JSONResponse:
    """A 422 shaped like FastAPI's own, naming the query field."""
    detail = [{"type": "value_error", "loc": ["query", field], "msg": message}]
    return JSONResponse({"detail": detail}, status_code=422)


def build_query(
    kind: history.Kind, symbol: str, start: str | None, end: str | None, limit: int,
    cursor: str | None, exchange: str | None, interval: str | None, now: int,
) -> history.HistoryQuery:  # fmt: skip
    end_at = (
        datetime.fromtimestamp(now / 1000, tz=UTC)
        if end is None
        else history.parse_time("end", end)
    )
    start_at = end_at - DEFAULT_SPAN if start is None else history.parse_time("start", start)
    if start_at >= end_at:
        raise history.BadParameter("start", "start must be before end")
    query = history.HistoryQuery(
        kind=kind, symbol=resolve_symbol(symbol), start=start_at, end=end_at, limit=limit,
        cursor=cursor, exchange=None if exchange is None else exchange.lower(), interval=interval,
    )  # fmt: skip
    history.history_sql(query)  # refuses a bad cursor or symbol form before any I/O
    return query


def add_history_routes(app: FastAPI, db: QueryDb) -> None:
    @app.get(
        "/api/v1/history/{symbol}",
        summary="Stored history (normalized, features, ohlc) by pages, as JSON, CSV or Parquet",
        response_model=None,
        responses=UNAVAILABLE,
    )
    async def symbol_history(
        symbol: Annotated[str, Path(pattern=SYMBOL_PATTERN, description="BTCUSDT, BTC-USD, BTC")],
        kind: history.Kind = "normalized",
        start: Annotated[
            str | None, Query(max_length=40, description="ISO 8601 or unix s/ms")
        ] = None,
        end: Annotated[str | None, Query(max_length=40, description="default: now")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="rows per page")] = 1000,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
        format: Literal["json", "csv", "parquet"] = "json",
        exchange: Annotated[str | None, Query(pattern=r"^[A-Za-z][A-Za-z0-9_]{1,30}$")] = None,
        interval: Annotated[str | None, Query(pattern=r"^[0-9]{1,3}[smhdw]$")] = None,
    ) -> Any:
        now = now_ms()
        try:
            query = build_query(kind, symbol, start, end, limit, cursor, exchange, interval, now)
        except history.BadParameter as exc:
            return unprocessable(exc.field, str(exc))
        rows = await db.fetch(*history.history_sql(query))
        items, next_cursor = history.page(query, rows)
        if format == "json":
            summary = {
                "first": items[0].get(history.KINDS[kind].time_column) if items else None,
                "last": items[-1].get(history.KINDS[kind].time_column) if items else None,
            }
            body = envelope("rows", items, summary, history.describe(query), now)
            body["data"]["next_cursor"] = next_cursor
            return json_response(body)
        render = history.to_csv if format == "csv" else history.to_parquet
        content = await asyncio.to_thread(render, items)
        name = "".join(ch if ch.isalnum() else "_" for ch in symbol)
        headers = {"Content-Disposition": f'attachment; filename="{name}-{kind}.{format}"'}
        if next_cursor is not None:
            headers["X-Next-Cursor"] = next_cursor
        return Response(content, media_type=MEDIA[format], headers=headers)
