"""Seed 002's symbol forms -> store filters, and the history cursor and time parsing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from microservices.ai_engine.exchange_data import history
from microservices.ai_engine.exchange_data.queries import Filters, common_where, iso_z
from microservices.ai_engine.exchange_data.symbols import SymbolFilter, resolve_symbol


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("BTC-USD", SymbolFilter(groups=("BTCUSDT",))),
        ("btc/usdt", SymbolFilter(groups=("BTCUSDT",))),
        ("XBT-USD", SymbolFilter(groups=("BTCUSDT",))),  # the alias table
        ("BTC-PERPETUAL", SymbolFilter(groups=("BTCUSDT",), perp_only=True)),
        ("ETH-PERP", SymbolFilter(groups=("ETHUSDT",), perp_only=True)),
        ("BTC", SymbolFilter(groups=("BTCUSDT", "BTC"))),
        ("MATIC", SymbolFilter(groups=("POLUSDT", "POL"))),
        ("BTCUSDT", SymbolFilter(groups=("BTCUSDT",))),
        ("BTCUSD", SymbolFilter(groups=("BTCUSDT",))),
        ("ETH-BTC", SymbolFilter(groups=("ETHBTC",))),
        ("ETHBTC", SymbolFilter(groups=("ETHBTCUSDT", "ETHBTC"))),
        ("BTCUSD.INV", SymbolFilter(exact="BTCUSD.INV")),
        ("BTC-27MAR26", SymbolFilter(exact="BTC-27MAR26")),
        ("btc-usdt-swap", SymbolFilter(exact="BTC-USDT-SWAP")),
    ],
)
def test_symbol_forms(text: str, expected: SymbolFilter) -> None:
    assert resolve_symbol(text) == expected


def test_where_clauses_number_their_parameters() -> None:
    since = datetime(2026, 1, 1, tzinfo=UTC)
    where = common_where(Filters(since=since, limit=10, symbol=resolve_symbol("BTC-PERPETUAL"),
                                 exchange="deribit"))  # fmt: skip
    assert where.sql() == (
        "timestamp >= $1 AND exchange = $2 AND symbol_group = $3 AND metadata->>'market' = $4"
    )
    assert where.params == [since, "deribit", "BTCUSDT", "perp"]
    exact = common_where(Filters(since=since, limit=1, symbol=resolve_symbol("BTCUSD.INV")))
    assert exact.sql() == "timestamp >= $1 AND (symbol = $2 OR canonical_symbol = $3)"


def test_times_and_cursors() -> None:
    assert history.parse_time("start", "1767225600") == datetime(2026, 1, 1, tzinfo=UTC)
    assert history.parse_time("start", "1767225600000") == datetime(2026, 1, 1, tzinfo=UTC)
    assert history.parse_time("end", "2026-01-01T00:00:00Z") == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(history.BadParameter) as info:
        history.parse_time("end", "tomorrow")
    assert info.value.field == "end"
    spec = history.KINDS["ohlc"]
    row = {"open_time": datetime(2026, 1, 1, 0, 1, tzinfo=UTC), "exchange": "binance",
           "symbol": "BTCUSDT", "interval": "1m"}  # fmt: skip
    token = history.encode_cursor(spec, row)
    assert history.decode_cursor(spec, token) == list(row.values())
    with pytest.raises(history.BadParameter, match="cursor"):
        history.decode_cursor(history.KINDS["features"], token)  # another kind's cursor
    assert iso_z(datetime(2026, 1, 1, 0, 0, 1, 250_000, tzinfo=UTC)) == "2026-01-01T00:00:01.250Z"
    assert iso_z(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00Z"


def test_history_sql_pages_by_key() -> None:
    query = history.HistoryQuery(
        kind="ohlc", symbol=resolve_symbol("BTC"), start=datetime(2026, 1, 1, tzinfo=UTC),
        end=datetime(2026, 1, 2, tzinfo=UTC), limit=100, exchange="binance", interval="1m",
    )  # fmt: skip
    sql, params = history.history_sql(query)
    assert sql == (
        "SELECT * FROM ohlc WHERE open_time >= $1 AND open_time < $2 AND "
        "symbol_group = ANY($3::text[]) AND exchange = $4 AND interval = $5 "
        "ORDER BY open_time, exchange, symbol, interval LIMIT $6"
    )
    assert params[2:] == [["BTCUSDT", "BTC"], "binance", "1m", 101]
