"""`backfill --to-db` against the simulator: REST history into ohlc / funding_rates /
open_interest, finished bars only, idempotent on a second run, the same bars as `--out`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pandas as pd
import pytest

from microservices.exchange_simulator.config import MarketConfig, SimulatorConfig
from microservices.exchange_simulator.server import SimulatorHandle, start_simulator
from tests.integration.storage.helpers import count, fetch
from tests.integration.test_backfill import backfill, last_line

pytestmark = pytest.mark.integration


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    config = SimulatorConfig(
        port=0, market=MarketConfig(symbols=("BTCUSDT", "ETHUSDT"), history_minutes=600)
    )
    async with start_simulator(config) as handle:
        yield handle


async def test_ohlc_history_into_the_database_once(
    sim: SimulatorHandle, pg_url: str, tmp_path: Path
) -> None:
    args = ("--venue", "bybit", "--symbol", "BTCUSDT,ETHUSDT", "--days", "0.1")
    code, stdout, stderr = await backfill(sim, *args, "--to-db", DATABASE_URL=pg_url)
    assert code == 0, stderr
    rows = await count(pg_url, "ohlc")
    assert rows > 100
    assert (
        last_line(stdout) == f"stored {rows} new rows of {rows} (ohlc; 0 refused) in the database"
    )
    code, stdout, _ = await backfill(sim, *args, "--to-db", DATABASE_URL=pg_url)
    assert code == 0
    # a re-run adds nothing twice: only bars that closed since (a minute boundary passed: one
    # per symbol) are new, and the table grows by exactly those
    new = int(last_line(stdout).split()[1])
    assert new <= 2
    assert await count(pg_url, "ohlc") == rows + new
    out = tmp_path / "bars.csv"
    code, _, _ = await backfill(sim, *args, "--out", str(out))
    frame = pd.read_csv(out)
    stored = await fetch(pg_url, "SELECT canonical_symbol, open_time, close FROM ohlc")
    from_db = {(r["canonical_symbol"], r["open_time"].isoformat(), r["close"]) for r in stored}
    from_file = {
        (s, pd.Timestamp(t).isoformat(), c)
        for s, t, c in zip(frame["symbol"], frame["timestamp"], frame["close"], strict=True)
    }
    assert (
        len(from_db & from_file) >= len(from_db) - 4
    )  # the file run a minute later may differ at the edges


async def test_funding_history_into_the_database(sim: SimulatorHandle, pg_url: str) -> None:
    code, _, stderr = await backfill(
        sim, "--venue", "bybit", "--symbol", "BTCUSDT", "--days", "2", "--kind", "funding",
        "--to-db", DATABASE_URL=pg_url,
    )  # fmt: skip
    assert code == 0, stderr
    rows = await fetch(pg_url, "SELECT id, exchange, symbol, rate FROM funding_rates")
    assert rows and all(r["id"].startswith("bybit_BTCUSDT_") for r in rows)


async def test_to_db_without_a_database_is_refused(sim: SimulatorHandle) -> None:
    code, _, stderr = await backfill(sim, "--venue", "bybit", "--symbol", "BTCUSDT", "--to-db")
    assert code == 2
    assert "--to-db needs DATABASE_URL" in stderr
