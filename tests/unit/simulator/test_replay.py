"""Loading captures for replay: venue detection and frame order."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from microservices.exchange_simulator.replay import (
    ReplayLibrary,
    load_capture,
    venue_of_path,
    venue_of_url,
)
from tests.fixture_paths import capture_frames, shared_fixture


@pytest.mark.parametrize(
    ("url", "venue"),
    [
        ("wss://stream.binance.com:9443/stream?streams=btcusdt@aggTrade", "binance"),
        ("wss://fstream.binance.com/stream?streams=btcusdt@markPrice", "binance_futures"),
        ("wss://stream.bybit.com/v5/public/linear", "bybit"),
        ("wss://stream.bybit.com/v5/public/spot", "bybit_spot"),
        ("wss://ws-feed.pro.coinbase.com", "coinbase"),
        ("wss://ws-feed.exchange.coinbase.com", "coinbase"),
        ("ws://127.0.0.1:8765/binance_futures/stream", "binance_futures"),
        ("ws://127.0.0.1:8765/bybit/v5/public/spot", "bybit_spot"),
        ("wss://example.org/feed", None),
    ],
)
def test_venue_of_url(url: str, venue: str | None) -> None:
    assert venue_of_url(url) == venue


def test_venue_of_path() -> None:
    assert venue_of_path(Path("fixtures/binance-futures/ws/x.jsonl")) == "binance_futures"
    assert venue_of_path(Path("fixtures/binance/ws/x.jsonl")) == "binance"
    assert venue_of_path(Path("somewhere/else.jsonl")) is None


def _write(path: Path, lines: list[dict[str, object]]) -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    return path


def test_cryptofeed_format_keeps_recv_frames_in_order(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "capture.jsonl",
        [
            {"ts": 1.0, "dir": "open", "url": "wss://fstream.binance.com/stream", "frame": None},
            {"ts": 1.1, "dir": "send", "url": "wss://fstream.binance.com/stream", "frame": "{}"},
            {"ts": 1.2, "dir": "recv", "frame": '{"stream":"a","data":{}}'},
            {"ts": 1.5, "dir": "recv", "frame": "not json"},
        ],
    )
    frames = load_capture(path)["binance_futures"]
    assert [f.text for f in frames] == ['{"stream":"a","data":{}}', "not json"]
    assert [f.ts for f in frames] == [1.2, 1.5]
    assert frames[1].obj is None


def test_tardis_format_skips_synthetic_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "bybit_t.jsonl",
        [
            {"ts": None, "frame": '{"topic":"publicTrade.BTCUSDT"}', "src": "map bybit messages"},
            {"ts": None, "frame": '{"topic":"x"}', "src": "gen", "synthetic": True},
            {
                "ts": None,
                "frame": '{"topic":"orderbook.1.BTCUSDT"}',
                "src": "map bybit spot messages",
            },
        ],
    )
    by_venue = load_capture(path)
    assert [f.text for f in by_venue["bybit"]] == ['{"topic":"publicTrade.BTCUSDT"}']
    assert [f.text for f in by_venue["bybit_spot"]] == ['{"topic":"orderbook.1.BTCUSDT"}']


def test_unknown_venue_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "mystery.jsonl", [{"ts": 1.0, "dir": "recv", "frame": "{}"}])
    with pytest.raises(ValueError, match="venue"):
        load_capture(path)


@pytest.mark.real_fixtures
def test_real_binance_capture_loads_every_recv_frame() -> None:
    path = shared_fixture(
        "binance/ws/spot_combined_depth_bookticker_kline_aggtrade.cryptofeed-2021.jsonl"
    )
    library = ReplayLibrary.load([path])
    assert [f.text for f in library.for_venue("binance")] == list(capture_frames(path))
    assert library.for_venue("coinbase") == []
