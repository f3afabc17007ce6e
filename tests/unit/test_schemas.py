"""Every stream's schema: exact round trips, readable wire fields, and rejection of bad entries."""

from __future__ import annotations

import contextlib
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from microservices.common import derived_schemas, schemas
from microservices.common.errors import SchemaError
from microservices.common.market_alerts import MARKET_ALERTS, MarketAlert
from microservices.common.records import NewListing
from microservices.common.streams import build_streams
from tests import factories as f


def as_redis(fields: dict[str, str]) -> dict[bytes, bytes]:
    return {k.encode(): v.encode() for k, v in fields.items()}


@pytest.mark.parametrize("record", f.raw_samples(), ids=lambda r: f"{r.type}-{r.exchange}")
def test_raw_round_trip(record: Any) -> None:
    encoded = schemas.RAW.encode(record)
    assert schemas.RAW.decode(as_redis(encoded)) == record
    assert encoded["type"] == record.type


def test_raw_wire_fields_are_readable() -> None:
    kline = f.raw_samples()[0]
    encoded = schemas.RAW.encode(kline)
    assert encoded == {
        "type": "kline", "exchange": "binance", "market": "spot", "symbol": "BTCUSDT",
        "venue_symbol": "BTCUSDT", "group": "BTCUSDT", "quote": "USDT",
        "timestamp": "1700000000.123", "received_at": "1700000000.165",
        "open_time": "1700000000.000", "interval": "1m", "open": "36500.0", "high": "36510.5",
        "low": "36490.25", "close": "36505.0", "volume": "12.5", "closed": "true",
    }  # fmt: skip


def test_coinbase_record_keeps_its_canonical_symbol_and_real_quote() -> None:
    coinbase = f.raw_samples()[3]
    encoded = schemas.RAW.encode(coinbase)
    assert (encoded["symbol"], encoded["venue_symbol"], encoded["group"], encoded["quote"]) == (
        "BTCUSD",
        "BTC-USD",
        "BTCUSDT",
        "USD",
    )
    assert schemas.RAW.decode(as_redis(encoded)) == coinbase


def test_entries_of_older_collectors_decode_with_their_symbol_as_group() -> None:
    """Entries written before `group`/`quote` existed (still in the stream after an upgrade)
    decode: their symbol was the followed symbol, the quote is unknown ("")."""
    entry = schemas.RAW.encode(f.trade())
    del entry["group"], entry["quote"]
    record = schemas.RAW.decode(as_redis(entry))
    assert (record.symbol, record.group, record.quote, record.price) == (
        "BTCUSDT",
        "BTCUSDT",
        "",
        36500.5,
    )


def test_optional_fields_are_omitted_not_blank() -> None:
    funding = f.raw_samples()[5]
    encoded = schemas.RAW.encode(funding)
    assert "mark_price" not in encoded and "next_funding_time" not in encoded
    assert schemas.RAW.decode(encoded).mark_price is None


GOOD_TRADE = schemas.RAW.encode(f.trade())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"price": None}, "missing required field 'price'"),
        ({"price": "nan"}, "not finite"),
        ({"price": "inf"}, "not finite"),
        ({"price": "-1"}, "price must be > 0"),
        ({"price": "0"}, "price must be > 0"),
        ({"price": "abc"}, "not a number"),
        ({"size": "-0.5"}, "quantity must be >= 0"),
        ({"side": "long"}, "side must be buy or sell"),
        ({"market": "futures"}, "market must be spot, perp or future"),
        ({"symbol": "btc-usd"}, "not a canonical symbol"),
        ({"group": "BTC/USDT"}, "'group': not a canonical symbol"),
        ({"quote": "usd"}, "not an asset code"),
        ({"exchange": ""}, "missing required field 'exchange'"),
        ({"timestamp": "1e9"}, "not a unix time"),
        ({"timestamp": "99.5"}, "time out of range"),
        ({"type": "candle"}, "unknown record type"),
        ({"type": None}, "missing required field 'type'"),
    ],
)
def test_raw_rejects_bad_entries(change: dict[str, str | None], message: str) -> None:
    entry = dict(GOOD_TRADE)
    for key, value in change.items():
        if value is None:
            entry.pop(key)
        else:
            entry[key] = value
    with pytest.raises(SchemaError, match=message):
        schemas.RAW.decode(entry)


def test_raw_rejects_crossed_ticker_and_broken_candle() -> None:
    ticker = schemas.RAW.encode(f.raw_samples()[2]) | {"bid": "36600"}
    with pytest.raises(SchemaError, match=r"bid 36600\.0 above ask"):
        schemas.RAW.decode(ticker)
    kline = schemas.RAW.encode(f.raw_samples()[0]) | {"high": "36000"}
    with pytest.raises(SchemaError, match=r"below low|outside"):
        schemas.RAW.decode(kline)


def test_funding_rate_out_of_range_rejected() -> None:
    entry = schemas.RAW.encode(f.raw_samples()[4]) | {"funding_rate": "1.5"}
    with pytest.raises(SchemaError, match="rate out of range"):
        schemas.RAW.decode(entry)


def test_non_utf8_bytes_rejected_cleanly() -> None:
    with pytest.raises(SchemaError, match="malformed entry"):
        schemas.RAW.decode({b"type": b"\xff\xfe"})


def test_normalized_round_trip_and_fields() -> None:
    snap = f.snapshot()
    encoded = derived_schemas.NORMALIZED.encode(snap)
    assert derived_schemas.NORMALIZED.decode(as_redis(encoded)) == snap
    assert encoded["binance_price"] == "99.0"
    assert encoded["bybit_funding_8h"] == "-0.025"  # percent per 8 h, signed
    assert encoded["funding_delta"] == "-0.02"
    assert encoded["num_exchanges"] == "3"
    assert encoded["exchanges"] == "binance,bybit,coinbase"
    assert encoded["excluded"] == "okx:stale"
    assert "coinbase_bid" not in encoded


def test_normalized_without_nbbo_round_trips() -> None:
    snap = f.snapshot(best_bid=None, best_bid_exchange=None, best_ask=None,
                      best_ask_exchange=None, excluded={})  # fmt: skip
    assert derived_schemas.NORMALIZED.decode(derived_schemas.NORMALIZED.encode(snap)) == snap


def test_normalized_rejects_missing_venue_price() -> None:
    encoded = derived_schemas.NORMALIZED.encode(f.snapshot())
    del encoded["bybit_price"]
    with pytest.raises(SchemaError, match="bybit_price"):
        derived_schemas.NORMALIZED.decode(encoded)


def test_features_round_trip_requires_every_feature() -> None:
    vector = f.features()
    encoded = derived_schemas.FEATURES.encode(vector)
    assert derived_schemas.FEATURES.decode(encoded) == vector
    assert len(derived_schemas.FEATURE_NAMES) == 31
    del encoded["lead_lag_coefficient"]
    with pytest.raises(SchemaError, match="lead_lag_coefficient"):
        derived_schemas.FEATURES.decode(encoded)


def test_status_has_exactly_the_seed_fields_plus_symbol() -> None:
    encoded = derived_schemas.STATUS.encode(f.status())
    seed_fields = {
        "timestamp", "cross_exchange_active", "data_age_seconds", "volatility_factor",
        "exchange_divergence", "funding_delta", "atr_multiplier", "tp_multiplier",
        "sl_multiplier", "use_trailing", "reasoning", "total_reads", "fail_count",
    }  # fmt: skip
    assert set(encoded) == seed_fields | {"symbol"}
    assert encoded["timestamp"] == "2023-12-21T03:15:42Z"
    assert encoded["cross_exchange_active"] == "true"
    assert encoded["atr_multiplier"] == "2.08"
    assert derived_schemas.STATUS.decode(as_redis(encoded)) == f.status()


def test_alert_round_trip_and_type_check() -> None:
    encoded = derived_schemas.ALERTS.encode(f.alert())
    assert encoded == {
        "timestamp": "2023-12-21T03:20:15Z", "symbol": "BTCUSDT", "type": "FALLBACK_TO_LOCAL",
        "reason": "Data stale (67.3s)", "fail_count": "1",
    }  # fmt: skip
    assert derived_schemas.ALERTS.decode(encoded) == f.alert()
    with pytest.raises(SchemaError, match="unknown alert type"):
        derived_schemas.ALERTS.decode(encoded | {"type": "PANIC"})


def test_general_alert_round_trip_and_checks() -> None:
    alert = MarketAlert(ts_ms=1_703_128_815_000, source="aggregator", type="DEPEG",
                        severity="warning", symbol="USDTUSD", venue="coinbase",
                        reason="USDT at 0.99 USD", data={"usd_price": 0.99, "asset": "USDT"})  # fmt: skip
    encoded = MARKET_ALERTS.encode(alert)
    assert encoded == {
        "timestamp": "2023-12-21T03:20:15Z", "source": "aggregator", "type": "DEPEG",
        "severity": "warning", "symbol": "USDTUSD", "venue": "coinbase",
        "reason": "USDT at 0.99 USD", "data": '{"asset":"USDT","usd_price":0.99}',
    }  # fmt: skip
    assert MARKET_ALERTS.decode(as_redis(encoded)) == alert
    for bad, message in (({"type": "PANIC"}, "unknown alert type"),
                         ({"severity": "loud"}, "unknown severity"),
                         ({"data": "[1]"}, "not a JSON object"), ({"data": "{"}, "not JSON")):  # fmt: skip
        with pytest.raises(SchemaError, match=message):
            MARKET_ALERTS.decode(encoded | bad)


def test_stream_registry_names_and_maxlens() -> None:
    streams = build_streams("quantum:stream:")
    assert [(s.name, s.maxlen) for s in streams.all()] == [
        ("quantum:stream:exchange.raw", 10_000),
        ("quantum:stream:exchange.normalized", 10_000),
        ("quantum:stream:exchange.features", 10_000),
        ("quantum:stream:exitbrain.status", 1_000),
        ("quantum:stream:exitbrain.alerts", 500),
        ("quantum:stream:exchange.listings", 1_000),
        ("quantum:stream:alerts", 5_000),
        ("quantum:stream:exchange.orderbook", 10_000),
        ("quantum:stream:exchange.large_trades", 10_000),
        ("quantum:stream:exchange.anomalies", 10_000),
        ("quantum:stream:exchange.signals", 10_000),
    ]
    assert streams.raw.dead_letter == "quantum:stream:exchange.raw:dead"


def test_listings_round_trip_and_fields() -> None:
    listing = NewListing(
        exchange="coinbase", venue_symbol="BTC-USD", symbol="BTCUSD", group="BTCUSDT",
        base="BTC", quote="USD", market="spot", status="trading", ts_ms=1_700_000_000_123,
        tick_size=0.01, lot_size=1e-08,
    )  # fmt: skip
    encoded = derived_schemas.LISTINGS.encode(listing)
    assert encoded == {
        "timestamp": "1700000000.123", "exchange": "coinbase", "venue_symbol": "BTC-USD",
        "symbol": "BTCUSD", "group": "BTCUSDT", "base": "BTC", "quote": "USD", "market": "spot",
        "status": "trading", "tick_size": "0.01", "lot_size": "1e-08",
    }  # fmt: skip
    assert derived_schemas.LISTINGS.decode(as_redis(encoded)) == listing
    without_steps = dict(encoded)
    del without_steps["tick_size"], without_steps["lot_size"]
    assert derived_schemas.LISTINGS.decode(without_steps).tick_size is None
    for bad, message in (
        ({"market": "swap"}, "unknown market type"),
        ({"status": "gone"}, "unknown status"),
        ({"quote": "u$d"}, "asset"),
    ):
        with pytest.raises(SchemaError, match=message):
            derived_schemas.LISTINGS.decode(encoded | bad)


@given(
    price=st.floats(min_value=1e-8, max_value=1e9, allow_nan=False),
    size=st.floats(min_value=0, max_value=1e9, allow_nan=False),
    ts=st.integers(min_value=1_300_000_000_000, max_value=4_000_000_000_000),
)
def test_trade_round_trip_property(price: float, size: float, ts: int) -> None:
    record = f.trade(price=price, size=size, ts_ms=ts, recv_ms=ts)
    decoded = schemas.RAW.decode(schemas.RAW.encode(record))
    assert decoded == record and math.isfinite(decoded.price)


@given(st.dictionaries(st.text(max_size=12), st.text(max_size=24), max_size=12))
def test_decoders_only_raise_schema_error(entry: dict[str, str]) -> None:
    for schema in (
        schemas.RAW,
        derived_schemas.NORMALIZED,
        derived_schemas.FEATURES,
        derived_schemas.STATUS,
        derived_schemas.ALERTS,
        derived_schemas.LISTINGS,
    ):
        with contextlib.suppress(SchemaError):
            schema.decode(entry)


@given(st.dictionaries(st.sampled_from(sorted(GOOD_TRADE)), st.text(max_size=20)))
def test_mutated_trade_entries_never_raise_anything_else(changes: dict[str, str]) -> None:
    try:
        decoded = schemas.RAW.decode(GOOD_TRADE | changes)
    except SchemaError:
        return
    assert decoded.price > 0 and math.isfinite(decoded.price)
