"""REST history against the simulator: pagination, the Redis timestamp cursor, history files
that resume after a restart without duplicates, the demo's own history directory, folded
failure logs, the backfill command, and the collector process serving its own metrics."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pandas as pd
import pytest
from fakeredis import FakeAsyncRedis

from microservices.common.backoff import Backoff
from microservices.common.log_fold import FoldedLog
from microservices.common.redis_server import free_port
from microservices.data_collector import exchange_data_collector, exchanges
from microservices.data_collector.exchange_data_collector import (
    FRAME_COLUMNS,
    ExchangeDataCollector,
)
from microservices.data_collector.history_store import HistoryStore
from microservices.data_collector.registry import build_exchanges
from microservices.data_collector.rest_client import RestClient
from microservices.data_collector.service import sync_history_files
from microservices.exchange_simulator.config import FaultConfig, MarketConfig, SimulatorConfig
from microservices.exchange_simulator.server import SimulatorHandle, start_simulator
from microservices.runner import demo_simulator, simulator_settings

pytestmark = pytest.mark.integration
MINUTE = 60_000


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    config = SimulatorConfig(
        port=0, market=MarketConfig(symbols=("BTCUSDT",), history_minutes=1000)
    )
    async with start_simulator(config) as handle:
        yield handle


def requests_to(sim: SimulatorHandle, venue: str, fragment: str) -> int:
    paths = sim.stats()["venues"].get(venue, {}).get("rest_requests", {})
    return sum(n for path, n in paths.items() if fragment in path)


async def test_pagination_and_cursor(
    sim: SimulatorHandle, fake_redis: Any, settings_factory: Any
) -> None:
    settings = simulator_settings(settings_factory(symbols="BTCUSDT"), sim.base_url, sim.ws_base)
    async with aiohttp.ClientSession() as session:
        rest = ExchangeDataCollector(
            build_exchanges(settings), RestClient(session), fake_redis, "cur"
        )
        now = int(time.time() * 1000) // MINUTE * MINUTE
        frame = await rest.fetch("ohlc", "coinbase", "BTCUSDT", now - 750 * MINUTE, now - 1)
        assert requests_to(sim, "coinbase", "/candles") == 3  # 300 candles per page
        assert list(frame.columns) == FRAME_COLUMNS["ohlc"]
        assert len(frame) == 750 and frame["timestamp"].is_monotonic_increasing
        assert (frame["timestamp"].diff().dropna() == pd.Timedelta(minutes=1)).all()
        assert (frame["low"] <= frame["high"]).all()

        first = await rest.sync_history("ohlc", "binance", "BTCUSDT", 120 * MINUTE, now=now)
        assert 118 <= len(first) <= 120 and first["closed"].all()
        cursor = int(await fake_redis.hget("cur", "binance:ohlc:BTCUSDT"))
        assert cursor == first["timestamp"].iloc[-1].value // 1_000_000
        before = requests_to(sim, "binance", "/klines")
        again = await rest.sync_history("ohlc", "binance", "BTCUSDT", 120 * MINUTE, now=now)
        assert again.empty  # nothing new: a restart does not refetch what it has
        assert requests_to(sim, "binance", "/klines") - before <= 1
        await fake_redis.hset("cur", "binance:ohlc:BTCUSDT", str(cursor - 3 * MINUTE))
        resumed = await rest.sync_history("ohlc", "binance", "BTCUSDT", 120 * MINUTE, now=now)
        resumed_ms = [ts.value // 1_000_000 for ts in resumed["timestamp"]]
        assert resumed_ms == [cursor - 2 * MINUTE, cursor - MINUTE, cursor]  # only after the cursor

        funding = await rest.fetch("funding", "binance_futures", "BTCUSDT", now - 86_400_000, now)
        assert list(funding.columns) == FRAME_COLUMNS["funding"] and len(funding) >= 2
        assert (
            funding["funding_rate_8h"]
            == funding["funding_rate"] * 8 / funding["funding_interval_h"]
        ).all()
        oi = await rest.fetch("open_interest", "bybit", "BTCUSDT", now - 3_600_000, now)
        assert len(oi) >= 10 and (oi["open_interest"] > 0).all()
        assert (await rest.fetch("funding", "coinbase", "BTCUSDT", now - 3_600_000, now)).empty


async def history_run(root: Path, seed: int, settings_factory: Any) -> int:
    """One collector run against a fresh simulator and a fresh (embedded) Redis, as
    `run --demo` twice: the Redis cursor of the previous run is gone, the files remain."""
    market = MarketConfig(symbols=("BTCUSDT",), seed=seed, history_minutes=1000)
    async with (
        start_simulator(SimulatorConfig(port=0, market=market)) as sim,
        aiohttp.ClientSession() as session,
    ):
        base = settings_factory(symbols="BTCUSDT", venues="binance_futures")
        settings = simulator_settings(base, sim.base_url, sim.ws_base)
        redis = FakeAsyncRedis()
        rest = ExchangeDataCollector(build_exchanges(settings), RestClient(session), redis, "cur")
        written = await sync_history_files(rest, HistoryStore(root), 120 * MINUTE, asyncio.Event())
        await redis.aclose()
        return written


async def test_history_files_resume_after_a_restart_without_duplicates(
    tmp_path: Path, settings_factory: Any
) -> None:
    first = await history_run(tmp_path, 1, settings_factory)
    ohlc_path = tmp_path / "binance_futures" / "ohlc" / "BTCUSDT.csv"
    oi_path = tmp_path / "binance_futures" / "open_interest" / "BTCUSDT.csv"
    ohlc, oi = pd.read_csv(ohlc_path), pd.read_csv(oi_path)
    assert 119 <= len(ohlc) <= 120 and ohlc["closed"].all() and len(oi) >= 20
    assert first == len(ohlc) + len(oi) + _rows(tmp_path / "binance_futures" / "funding")
    # a restart with other prices (seed 2): only bars after the newest stored one are asked
    again = await history_run(tmp_path, 2, settings_factory)
    assert again <= 3  # at most the minute (and OI period) that passed between the runs
    after, oi_after = pd.read_csv(ohlc_path), pd.read_csv(oi_path)
    assert after["timestamp"].is_unique and oi_after["timestamp"].is_unique
    assert after["timestamp"].is_monotonic_increasing
    assert len(after) + len(oi_after) <= len(ohlc) + len(oi) + again
    # the stored bars are untouched: the same timestamps with the same prices
    pd.testing.assert_frame_equal(after.iloc[: len(ohlc)], ohlc)


def _rows(directory: Path) -> int:
    return sum(len(pd.read_csv(path)) for path in directory.glob("*.csv"))


async def test_the_demo_writes_history_apart(tmp_path: Path, settings_factory: Any) -> None:
    live, demo_dir = tmp_path / "history", tmp_path / "demo"
    settings = settings_factory(rest_history_dir=str(live), demo_history_dir=str(demo_dir))
    async with demo_simulator(settings) as demo:
        assert demo.rest_history_dir == str(demo_dir)
        assert demo.endpoint("binance_futures", "rest").startswith("http://127.0.0.1:")


async def test_repeated_poll_failures_fold_into_one_line(
    settings_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    faults = {"bybit": FaultConfig(server_error_burst=1000)}
    config = SimulatorConfig(port=0, venue_faults=faults)
    async with start_simulator(config) as sim, aiohttp.ClientSession() as session:
        base = settings_factory(symbols="BTCUSDT,ETHUSDT,SOLUSDT", venues="bybit")
        settings = simulator_settings(base, sim.base_url, sim.ws_base)
        client = RestClient(session, circuit_failures=1000, backoff=Backoff(0.0, 0.0),
                            sleep=lambda s: asyncio.sleep(0))  # fmt: skip
        rest = ExchangeDataCollector(build_exchanges(settings), client)
        now = [0.0]
        rest.failures = FoldedLog(
            exchange_data_collector.logger, "rest.failed", 60.0, clock=lambda: now[0]
        )
        caplog.set_level(logging.WARNING, logger=exchange_data_collector.__name__)
        for now[0] in (0.0, 10.0, 61.0):  # three polls of three symbols, all answered 503
            assert await rest.poll_current(None, None) == 0  # type: ignore[arg-type]
    lines = [r for r in caplog.records if r.name == exchange_data_collector.__name__]
    assert [r.getMessage() for r in lines] == ["rest.failed", "rest.failed"]
    fields = [(r.exchange, r.cause, r.count, r.endpoint, r.symbol) for r in lines]  # type: ignore[attr-defined]
    assert fields == [
        ("bybit", "HTTP 503", 1, "/v5/market/tickers", "BTCUSDT"),
        ("bybit", "HTTP 503", 6, "/v5/market/tickers", "BTCUSDT,ETHUSDT,SOLUSDT"),
    ]
    assert sim.stats()["venues"]["bybit"]["rest_5xx"] == 9 * 4  # four attempts per request


def env_for(sim: SimulatorHandle, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL",)}
    env |= sim.endpoint_env()
    env["SYMBOLS"] = "BTCUSDT"
    return env | extra


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
async def test_backfill_command(sim: SimulatorHandle, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"btc{suffix}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "microservices.cli", "--env-file", "/dev/null", "backfill",
        "--venue", "bybit", "--symbol", "BTCUSDT", "--days", "0.25", "--out", str(out),
        env=env_for(sim), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, stderr.decode()[-1500:]
    frame = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
    assert 358 <= len(frame) <= 361  # six hours of 1m bars
    assert set(frame["exchange"]) == {"bybit"} and set(frame["symbol"]) == {"BTCUSDT"}
    assert f"wrote {len(frame)} rows" in stdout.decode()
    assert "bybit ohlc" in stderr.decode()  # the progress bar


async def test_collector_process_serves_metrics(sim: SimulatorHandle, redis_server: Any) -> None:
    port = free_port()
    env = env_for(sim, REDIS_URL=redis_server.url, METRICS_PORT=str(port), STREAM_PREFIX=f"m{port}:",
                  REST_HISTORY_DIR="", LOG_FORMAT="json")  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "microservices.data_collector", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    wanted = [f'ce_ws_records_total{{exchange="{venue}",type="trade"}}'
              for venue in exchanges.default_venues()]  # fmt: skip
    text = ""
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            for _ in range(90):
                try:
                    text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
                except httpx.TransportError:
                    text = ""
                if all(w in text for w in wanted):
                    break
                await asyncio.sleep(0.5)
        for line in wanted:
            assert line in text
        assert "ce_published_records_total" in text and "ce_ws_connected" in text
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=30) == 0
