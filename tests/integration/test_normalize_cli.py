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
    ("binance", "binance/ws/spot_depth_with_rest_snapshots.cryptofeed-2021.jsonl"),
    ("binance", "binance/ws/tardis-node_mappers-test_samples.jsonl"),
    ("binance_futures", "binance-futures/ws/tardis-node_mappers-test_samples.jsonl"),
    ("bybit", "bybit/ws/tardis-node_mappers-test_samples.jsonl"),
    ("bybit", "bybit/ws/LEGACY_realtime_public_usdt.cryptofeed-2021.jsonl"),
    ("bybit", "bybit/ws/LEGACY_realtime_inverse.cryptofeed-2021.jsonl"),
    ("coinbase", "coinbase/ws/ws_feed_level2_ticker_matches.cryptofeed-2021.jsonl"),
    ("coinbase", "coinbase/ws/tardis-node_mappers-test_samples.jsonl"),
    ("gateio", "gateio/ws/spot_v4_trades_obupdate_candles_ticker.cryptofeed-2021.jsonl"),
    ("gateio", "gateio/ws/tardis-node_mappers-test_samples.jsonl"),
    ("gateio_futures", "gateio/ws/futures_usdt_v4.cryptofeed-2023.jsonl"),
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
    # every instrument of the capture is named (naming rule: no listing in these captures);
    # values per instrument: tests/unit/collector/test_normalize_instruments.py
    rejected = summary["rejected"]
    assert isinstance(rejected, dict) and "unknown_symbol" not in rejected
    assert "not_followed" not in rejected
    assert summary["instruments"] == {"source": "rule", "listed": 0}
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


def normalize_cli(
    venue: str, source: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "microservices.cli", "--env-file", "/dev/null", "normalize",
         "--venue", venue, source],
        input=stdin, capture_output=True, timeout=120, check=False,
    )  # fmt: skip


def test_normalize_reads_stdin_given_dash(tmp_path: Path) -> None:
    capture = tmp_path / "capture.jsonl"
    capture.write_bytes(b"".join(
        f.read_bytes() for f in sorted(local_fixture("exchanges/bybit").glob("ws_*.jsonl"))
    ))  # fmt: skip
    from_file = normalize_cli("bybit", str(capture))
    from_stdin = normalize_cli("bybit", "-", stdin=capture.read_bytes())
    assert from_stdin.returncode == 0, from_stdin.stderr.decode()
    records = [orjson.loads(line) for line in from_stdin.stdout.splitlines()]
    assert len(records) > 0 and {r["exchange"] for r in records} == {"bybit"}
    assert from_stdin.stdout == from_file.stdout  # same records, same order, same times
    summary = orjson.loads(from_stdin.stderr.splitlines()[-1])
    assert summary["frames"] == orjson.loads(from_file.stderr.splitlines()[-1])["frames"]


BARE_FRAMES = (  # exchange frames without the capture wrapper, and plain text
    b'{"stream": "btcusdt@aggTrade", "data": {"e": "aggTrade", "s": "BTCUSDT", "p": "1"}}\n'
    b"not json at all\n"
    b"\n"
    b'{"ts": 1700000000.1, "dir": "recv"}\n'
)


@pytest.mark.parametrize("via", ["file", "stdin"])
def test_normalize_says_when_no_line_is_a_capture_line(via: str, tmp_path: Path) -> None:
    path = tmp_path / "bare.jsonl"
    path.write_bytes(BARE_FRAMES)
    if via == "file":
        result = normalize_cli("binance_futures", str(path))
        name = str(path)
    else:
        result = normalize_cli("binance_futures", "-", stdin=BARE_FRAMES)
        name = "standard input"
    assert result.returncode == 2
    assert result.stdout == b""
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"cross-exchange: no line of {name} is in the capture format")
    assert '"frame"' in lines[0]


def test_normalize_empty_stdin_is_not_a_capture() -> None:
    result = normalize_cli("coinbase", "-", stdin=b"")
    assert result.returncode == 2 and result.stdout == b""
    assert result.stderr.decode().splitlines() == [
        "cross-exchange: no line of standard input is in the capture format "
        '(JSON objects with a "frame" field, one per line); it is empty'
    ]
