"""`cross-exchange normalize` on every WebSocket capture of the four venues in ../shared/fixtures.

Runs the real console script; every output line must decode through the exchange.raw schema.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from microservices.common.schemas import RAW
from tests.fixture_paths import local_fixture, shared_fixture

CAPTURES = [
    ("binance", "binance/ws/spot_combined_depth_bookticker_kline_aggtrade.cryptofeed-2021.jsonl"),
    ("binance", "binance/ws/tardis-node_mappers-test_samples.jsonl"),
    ("binance_futures", "binance-futures/ws/tardis-node_mappers-test_samples.jsonl"),
    ("bybit", "bybit/ws/tardis-node_mappers-test_samples.jsonl"),
    ("bybit", "bybit/ws/LEGACY_realtime_public_usdt.cryptofeed-2021.jsonl"),
    ("bybit", "bybit/ws/LEGACY_realtime_inverse.cryptofeed-2021.jsonl"),
    ("coinbase", "coinbase/ws/ws_feed_level2_ticker_matches.cryptofeed-2021.jsonl"),
    ("coinbase", "coinbase/ws/tardis-node_mappers-test_samples.jsonl"),
]


def run_normalize(venue: str, path: Path) -> tuple[list[dict[str, str]], dict[str, object]]:
    result = subprocess.run(
        [sys.executable, "-m", "microservices.cli", "--env-file", "/dev/null", "normalize",
         "--venue", venue, str(path)],
        capture_output=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    lines = [orjson.loads(line) for line in result.stdout.splitlines() if line.strip()]
    summary = orjson.loads(result.stderr.strip().splitlines()[-1])
    return lines, summary


@pytest.mark.integration
@pytest.mark.parametrize(("venue", "relative"), CAPTURES, ids=[c[1] for c in CAPTURES])
def test_normalize_real_captures(venue: str, relative: str) -> None:
    path = shared_fixture(relative)
    records, summary = run_normalize(venue, path)
    assert summary["venue"] == venue and summary["frames"] > 0
    emitted = summary["emitted"]
    assert isinstance(emitted, dict)
    assert len(records) == sum(emitted.values())
    for fields in records:
        decoded = RAW.decode(fields)
        assert decoded.exchange == venue
    if "LEGACY" in relative:
        assert records == []  # retired pre-v5 API: recognized as nothing, never a crash


def test_normalize_own_frames_binance_futures(tmp_path: Path) -> None:
    frames = sorted(local_fixture("exchanges/binance_futures").glob("ws_*.jsonl"))
    assert frames, "repo frames missing"
    capture = tmp_path / "capture.jsonl"  # the repo's frames are already in capture format
    capture.write_bytes(b"".join(file.read_bytes() for file in frames))
    records, summary = run_normalize("binance_futures", capture)
    assert len(records) > 0
    assert {r["type"] for r in records} >= {"trade", "ticker", "kline", "funding", "liquidation"}


def test_normalize_rejects_unknown_venue(tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    capture.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "microservices.cli", "--env-file", "/dev/null", "normalize",
         "--venue", "krakenx", str(capture)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "unknown venue 'krakenx'" in result.stderr
