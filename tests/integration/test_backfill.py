"""`cross-exchange backfill` against the simulator: several venues and symbols into one file,
finished bars only, a progress bar counting bars; one-line errors (exit 1) for network and
venue faults, messages (exit 2) for impossible requests."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pandas as pd
import pytest

from microservices.common.redis_server import free_port
from microservices.exchange_simulator.config import FaultConfig, MarketConfig, SimulatorConfig
from microservices.exchange_simulator.server import SimulatorHandle, start_simulator

pytestmark = pytest.mark.integration
MINUTE = 60_000


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    config = SimulatorConfig(
        port=0,
        market=MarketConfig(symbols=("BTCUSDT", "ETHUSDT"), history_minutes=1000),
        venue_faults={"coinbase": FaultConfig(server_error_burst=1000)},
    )
    async with start_simulator(config) as handle:
        yield handle


async def backfill(sim: SimulatorHandle, *args: str, **env: str) -> tuple[int, str, str]:
    base = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | sim.endpoint_env()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "microservices.cli", "--env-file", "/dev/null", "backfill", *args,
        env=base | env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def last_line(text: str) -> str:
    """The last non-blank line as a terminal shows it (a cleared progress bar is blank)."""
    lines = [part.strip() for line in text.splitlines() for part in line.split("\r")]
    return [line for line in lines if line][-1]


async def test_venues_and_symbols_into_one_file(sim: SimulatorHandle, tmp_path: Path) -> None:
    out = tmp_path / "bars.csv"
    before_ms = int(time.time() * 1000) // MINUTE * MINUTE
    code, stdout, stderr = await backfill(
        sim, "--venue", "bybit,binance_futures", "--symbol", "btcusdt", "--symbol", "ETHUSDT",
        "--days", "0.25", "--out", str(out),
    )  # fmt: skip
    after_ms = int(time.time() * 1000) // MINUTE * MINUTE
    assert code == 0, stderr[-1500:]
    frame = pd.read_csv(out)
    frame["ms"] = (
        pd.to_datetime(frame["timestamp"], format="ISO8601").dt.as_unit("ms").astype("int64")
    )
    groups = frame.groupby(["exchange", "symbol"], sort=False)
    assert list(groups.groups) == [
        ("binance_futures", "BTCUSDT"), ("binance_futures", "ETHUSDT"),
        ("bybit", "BTCUSDT"), ("bybit", "ETHUSDT"),
    ]  # fmt: skip
    for _, rows in groups:
        assert len(rows) == 360  # six hours of finished 1m bars, no more, no less
        assert (rows["ms"].diff().dropna() == MINUTE).all() and rows["closed"].all()
        # the bar still open at the time of the request is left out
        assert before_ms - MINUTE <= rows["ms"].iloc[-1] <= after_ms - MINUTE
    btc = frame[frame["symbol"] == "BTCUSDT"]["close"]
    eth = frame[frame["symbol"] == "ETHUSDT"]["close"]
    assert btc.min() > 10 * eth.max()  # each symbol its own prices, not one series twice
    assert f"wrote {len(frame)} rows to {out}" in stdout
    assert "bybit ohlc ETHUSDT" in stderr and "360/360" in stderr  # the bar counts bars


@pytest.mark.parametrize(
    ("args", "env", "line"),
    [
        (["--venue", "bybit"], {"BYBIT_REST_URL": "http://127.0.0.1:{port}/bybit"},
         "cross-exchange backfill: bybit /v5/market/kline: refused"),
        (["--venue", "coinbase"], {},
         "cross-exchange backfill: coinbase /products/BTC-USD/candles: HTTP 503"),
    ],
    ids=["refused", "http-503"],
)  # fmt: skip
async def test_network_and_venue_errors_are_one_line(
    sim: SimulatorHandle, tmp_path: Path, args: list[str], env: dict[str, str], line: str
) -> None:
    env = {k: v.format(port=free_port()) for k, v in env.items()}
    out = tmp_path / "x.csv"
    code, stdout, stderr = await backfill(
        sim, *args, "--symbol", "BTCUSDT", "--days", "0.1", "--out", str(out), **env
    )
    assert code == 1
    assert last_line(stderr) == line
    assert "Traceback" not in stderr and "ConnectionKey" not in stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--venue", "coinbase", "--kind", "funding"], "coinbase has no funding history"),
        (["--venue", "bybit,binance", "--kind", "open_interest"],
         "binance has no open_interest history"),
        (["--venue", "bybit", "--days", "0"], "argument --days: must be greater than 0, got 0"),
        (["--venue", "bybit", "--days", "-1"], "argument --days: must be greater than 0"),
    ],
)  # fmt: skip
async def test_impossible_requests_get_a_message(
    sim: SimulatorHandle, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "x.csv"
    code, stdout, stderr = await backfill(sim, *args, "--symbol", "BTCUSDT", "--out", str(out))
    assert code == 2
    assert message in last_line(stderr) and "wrote" not in stdout
    assert not out.exists()
