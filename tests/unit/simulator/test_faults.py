"""Fault injection pieces: malformed frames, per-connection silence/drop, runtime settings."""

from __future__ import annotations

import json
import math

import orjson
import pytest

from microservices.exchange_simulator.config import FaultConfig
from microservices.exchange_simulator.faults import (
    ConnectionFaults,
    FaultState,
    coerce_faults,
    malform,
)

BINANCE = orjson.dumps(
    {
        "stream": "btcusdt@bookTicker",
        "data": {"u": 1, "s": "BTCUSDT", "b": "65000.10", "B": "1.5", "a": "65000.20", "A": "2.0"},
    }
)
BYBIT_BOOK = orjson.dumps(
    {
        "topic": "orderbook.1.BTCUSDT",
        "type": "snapshot",
        "ts": 1,
        "data": {
            "s": "BTCUSDT",
            "b": [["65000.1", "1"]],
            "a": [["65000.2", "1"]],
            "u": 1,
            "seq": 2,
        },
    }
)
COINBASE = orjson.dumps(
    {
        "type": "ticker",
        "product_id": "BTC-USD",
        "price": "65000.01",
        "best_bid": "65000.00",
        "best_ask": "65000.02",
        "sequence": 5,
    }
)


def test_invalid_json() -> None:
    bad, binary = malform(BINANCE, "invalid_json")
    assert not binary
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad)


def test_binary() -> None:
    bad, binary = malform(BINANCE, "binary")
    assert binary and bad == BINANCE


def test_nan_prices() -> None:
    bad, _ = malform(BINANCE, "nan_price")
    data = json.loads(bad)["data"]
    assert data["b"] == "NaN" and data["a"] == "NaN" and data["s"] == "BTCUSDT"
    book = json.loads(malform(BYBIT_BOOK, "nan_price")[0])
    assert book["data"]["b"][0][0] == "NaN"


def test_negative_prices() -> None:
    data = json.loads(malform(COINBASE, "negative_price")[0])
    assert float(data["price"]) < 0 and float(data["best_bid"]) < 0
    assert data["sequence"] == 5


def test_numeric_nan_is_the_json_literal() -> None:
    bad, _ = malform(orjson.dumps({"type": "x", "price": 1.5}), "nan_price")
    assert b"NaN" in bad and math.isnan(json.loads(bad)["price"])


def test_unknown_topic() -> None:
    assert json.loads(malform(BINANCE, "unknown_topic")[0])["stream"].endswith("@unknownStream")
    assert json.loads(malform(BYBIT_BOOK, "unknown_topic")[0])["topic"].startswith("unknownTopic")
    assert json.loads(malform(COINBASE, "unknown_topic")[0])["type"] == "unknown_type"


def test_frame_without_prices_becomes_invalid_json() -> None:
    bad, _ = malform(b'{"result":null,"id":1}', "nan_price")
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad)


def test_silence_after_n_frames_then_resumes() -> None:
    cfg = FaultConfig(silence_after=2, silence_for_s=5.0)
    conn = ConnectionFaults(seed=1)
    assert not conn.silent(cfg, 0, now_s=0.0)
    conn.data_frames = 2
    assert conn.silent(cfg, 0, now_s=1.0)
    assert conn.silent(cfg, 0, now_s=5.9)
    assert not conn.silent(cfg, 0, now_s=6.1)
    assert not conn.silent(cfg, 0, now_s=100.0)  # once per settings version


def test_silence_forever_and_restart_on_new_settings() -> None:
    conn = ConnectionFaults(seed=1)
    conn.data_frames = 10
    forever = FaultConfig(silence_after=0)
    assert conn.silent(forever, 0, now_s=0.0)
    assert conn.silent(forever, 0, now_s=1e9)
    assert not conn.silent(FaultConfig(), 1, now_s=1e9)


def test_drop_and_malformed_draws() -> None:
    conn = ConnectionFaults(seed=3)
    cfg = FaultConfig(drop_every=3, malformed_rate=1.0, malformed_kinds=("binary",))
    conn.data_frames = 2
    assert not conn.should_drop(cfg)
    conn.data_frames = 3
    assert conn.should_drop(cfg)
    assert conn.malformed_kind(cfg) == "binary"
    assert conn.malformed_kind(FaultConfig()) is None


def test_fault_state_updates_one_or_all_venues() -> None:
    state = FaultState(FaultConfig(), {}, ("binance", "bybit"))
    state.update("binance", {"drop_every": 5, "malformed_kinds": ["binary"]})
    assert state.for_venue("binance").drop_every == 5
    assert state.for_venue("binance").malformed_kinds == ("binary",)
    assert state.for_venue("bybit").drop_every == 0
    state.update(None, {"latency_ms": 10})
    assert state.for_venue("bybit").latency_ms == 10 and state.for_venue("binance").drop_every == 5
    assert state.version == 2
    state.reset()
    assert state.for_venue("binance") == FaultConfig()


@pytest.mark.parametrize(
    "changes",
    [
        {"nope": 1},
        {"malformed_rate": 2.0},
        {"drop_every": -1},
        {"malformed_kinds": ["bogus"]},
        {"drop_mode": "explode"},
    ],
)
def test_bad_fault_settings_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        coerce_faults(FaultConfig(), changes)


def test_unknown_venue_is_refused() -> None:
    with pytest.raises(ValueError):
        FaultState(FaultConfig(), {}, ("binance",)).update("kraken", {"drop_every": 1})
