"""Sample records for tests: one valid record of every type with hand-picked values."""

from __future__ import annotations

from typing import Any

from microservices.common.derived_schemas import FEATURE_NAMES
from microservices.common.records import (
    ExitAlert,
    ExitStatus,
    FeatureVector,
    Funding,
    Kline,
    Liquidation,
    NormalizedSnapshot,
    OpenInterest,
    Ticker,
    Trade,
    VenueQuote,
)

T0 = 1_700_000_000_123


def header(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "exchange": "binance",
        "market": "spot",
        "symbol": "BTCUSDT",
        "venue_symbol": "BTCUSDT",
        "group": "BTCUSDT",
        "quote": "USDT",
        "ts_ms": T0,
        "recv_ms": T0 + 42,
    }
    base.update(overrides)
    return base


def trade(price: float = 36500.5, **kw: Any) -> Trade:
    fields = {"size": 0.25, "side": "buy", "trade_id": "123456"} | kw
    hdr = {k: fields.pop(k) for k in list(fields) if k in header()}
    return Trade(**header(**hdr), price=price, **fields)


def raw_samples() -> list[Any]:
    return [
        Kline(
            **header(), open_time_ms=T0 - 123, interval="1m", open=36500.0, high=36510.5,
            low=36490.25, close=36505.0, volume=12.5, closed=True,
        ),
        trade(),
        Ticker(**header(), bid=36500.0, bid_size=1.5, ask=36500.5, ask_size=2.0, last=36500.2),
        Ticker(**header(exchange="coinbase", symbol="BTCUSD", venue_symbol="BTC-USD",
                        quote="USD"), bid=1.0, bid_size=0.0, ask=1.0, ask_size=0.0),
        Funding(
            **header(exchange="binance_futures", market="perp"), funding_rate=0.0001,
            funding_interval_h=8.0, next_funding_time_ms=T0 + 3_600_000, mark_price=36501.0,
            index_price=36499.0,
        ),
        Funding(**header(exchange="bybit", market="perp"), funding_rate=-0.00025,
                funding_interval_h=4.0),
        OpenInterest(**header(exchange="bybit", market="perp"), open_interest=50123.5,
                     open_interest_usd=1.83e9),
        OpenInterest(**header(exchange="binance_futures", market="perp"), open_interest=10.0),
        Liquidation(**header(exchange="binance_futures", market="perp"), price=36400.0, size=0.5,
                    side="sell"),
    ]  # fmt: skip


def snapshot(**overrides: Any) -> NormalizedSnapshot:
    base: dict[str, Any] = {
        "symbol": "BTCUSDT", "ts_ms": T0, "avg_price": 100.0, "median_price": 100.0,
        "price_divergence": 0.81649658093, "exchange_divergence": 0.02,
        "funding_delta": -0.02, "avg_funding_rate": -0.015, "volatility_factor": 1.0,
        "num_exchanges": 3,
        "venues": {
            "binance": VenueQuote(price=99.0, bid=98.9, ask=99.1, bid_size=1.0, ask_size=2.0,
                                  volume=10.0, age_ms=120),
            "bybit": VenueQuote(price=100.0, funding_8h=-0.025, open_interest_usd=5e8, age_ms=40),
            "coinbase": VenueQuote(price=101.0, age_ms=900),
        },
        "best_bid": 98.9, "best_bid_exchange": "binance", "best_ask": 99.1,
        "best_ask_exchange": "binance", "arb_bps": 0.0, "excluded": {"okx": "stale"},
    }  # fmt: skip
    base.update(overrides)
    return NormalizedSnapshot(**base)


def features(symbol: str = "BTCUSDT") -> FeatureVector:
    return FeatureVector(
        symbol=symbol, ts_ms=T0, values={n: float(i) / 8 for i, n in enumerate(FEATURE_NAMES)}
    )


def status(**overrides: Any) -> ExitStatus:
    base: dict[str, Any] = {
        "symbol": "BTCUSDT", "ts_ms": 1_703_128_542_000, "cross_exchange_active": True,
        "data_age_seconds": 12.4, "volatility_factor": 1.8, "exchange_divergence": 0.042,
        "funding_delta": 0.0012, "atr_multiplier": 2.08, "tp_multiplier": 1.00096,
        "sl_multiplier": 1.0168, "use_trailing": True,
        "reasoning": "Vol:1.80 Div:0.042 Fund:0.0012 | ATR×2.08 TP×1.00 SL×1.02",
        "total_reads": 142, "fail_count": 0,
    }  # fmt: skip
    base.update(overrides)
    return ExitStatus(**base)


def alert(**overrides: Any) -> ExitAlert:
    base: dict[str, Any] = {
        "symbol": "BTCUSDT", "ts_ms": 1_703_128_815_000, "type": "FALLBACK_TO_LOCAL",
        "reason": "Data stale (67.3s)", "fail_count": 1,
    }  # fmt: skip
    base.update(overrides)
    return ExitAlert(**base)


def assert_wire_round_trip(schema: Any, record: Any) -> None:
    """Derived streams carry 12 significant digits: the wire form is stable under a second
    round trip and every number agrees with the record to 1e-12 relative."""
    import math

    encoded = schema.encode(record)
    decoded = schema.decode(encoded)
    assert schema.encode(decoded) == encoded
    for key, text in encoded.items():
        original = _lookup(record, key)
        if isinstance(original, float):
            assert math.isclose(float(text), original, rel_tol=1e-11, abs_tol=1e-300), key


def _lookup(record: Any, key: str) -> Any:
    if hasattr(record, "values") and isinstance(record.values, dict) and key in record.values:
        return record.values[key]
    return getattr(record, key, None)
