"""The exchange.large_trades schema: exact wire fields, round trip, and bad entries named."""

from __future__ import annotations

import pytest

from microservices.common.errors import SchemaError
from microservices.common.large_trade_schema import (
    LARGE_TRADES,
    LargeTrade,
    liquidation_trade_id,
)
from microservices.common.streams import build_streams


def _trade(**changes: object) -> LargeTrade:
    fields: dict[str, object] = dict(
        exchange="coinbase", market="spot", symbol="BTC-USD", canonical_symbol="BTCUSD",
        group="BTCUSDT", quote="USD", trade_id="12345", ts_ms=1_763_116_215_000,
        recv_ms=1_763_116_215_042, price=50123.45, size=2.5, side="buy",
        value_usd=125308.625, quote_usd=1.0, threshold_usd=100_000.0, is_liquidation=False,
    )  # fmt: skip
    fields.update(changes)
    return LargeTrade(**fields)  # type: ignore[arg-type]


def test_encoding_is_flat_and_round_trips() -> None:
    trade = _trade()
    encoded = LARGE_TRADES.encode(trade)
    assert encoded == {
        "exchange": "coinbase", "market": "spot", "symbol": "BTC-USD",
        "canonical_symbol": "BTCUSD", "group": "BTCUSDT", "quote": "USD", "trade_id": "12345",
        "timestamp": "1763116215.000", "received_at": "1763116215.042", "price": "50123.45",
        "size": "2.5", "side": "buy", "value_usd": "125308.625", "quote_usd": "1.0",
        "threshold_usd": "100000.0", "is_liquidation": "false",
    }  # fmt: skip
    raw = {k.encode(): v.encode() for k, v in encoded.items()}
    assert LARGE_TRADES.decode(raw) == trade
    assert trade.row_id == "coinbase_BTC-USD_12345"  # seed 002: {exchange}_{symbol}_{trade_id}


def test_liquidation_ids_are_stable() -> None:
    first = liquidation_trade_id(1_763_116_215_000, "sell", 3012.5, 40.0)
    assert first == "liq-1763116215000-sell-3012.5-40.0"
    assert liquidation_trade_id(1_763_116_215_000, "sell", 3012.5, 40.0) == first
    assert liquidation_trade_id(1_763_116_215_000, "buy", 3012.5, 40.0) != first


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"value_usd": "1.0"}, "value_usd"),
        ({"price": "-1"}, "price must be > 0"),
        ({"size": "0"}, "'size': must be > 0"),
        ({"side": "up"}, "side must be buy or sell"),
        ({"is_liquidation": "maybe"}, "not a boolean"),
        ({"canonical_symbol": "btc usd"}, "not a canonical symbol"),
        ({"timestamp": "nan"}, "not a unix time"),
    ],
)
def test_bad_entries_name_the_field(change: dict[str, str], message: str) -> None:
    encoded = LARGE_TRADES.encode(_trade()) | change
    with pytest.raises(SchemaError, match=message):
        LARGE_TRADES.decode(encoded)


def test_missing_field_is_named() -> None:
    encoded = LARGE_TRADES.encode(_trade())
    del encoded["trade_id"]
    with pytest.raises(SchemaError, match="trade_id"):
        LARGE_TRADES.decode(encoded)


def test_stream_spec_and_group() -> None:
    stream = build_streams("quantum:stream:").large_trades
    assert (stream.name, stream.maxlen, stream.group) == (
        "quantum:stream:exchange.large_trades", 10_000, "storage",
    )  # fmt: skip
    assert stream.schema is LARGE_TRADES
