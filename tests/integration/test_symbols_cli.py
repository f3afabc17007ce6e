"""`cross-exchange symbols --venue V`: a venue's instruments from the listing cache, or fetched
(from the simulator) when there is none or with `--fetch`; a table, or JSON."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from microservices.common.errors import FatalError
from microservices.common.instruments import make_instrument
from microservices.common.settings import Settings
from microservices.data_collector import exchanges
from microservices.data_collector.listing_cache import listing_path, read_listing, save_listing
from microservices.data_collector.symbols_cli import run_symbols
from microservices.exchange_simulator.config import SimulatorConfig
from microservices.exchange_simulator.server import start_simulator

pytestmark = pytest.mark.integration


def cached_coinbase(folder: Path) -> None:
    instruments = [
        make_instrument(venue="coinbase", venue_symbol="BTC-USD", base="BTC", quote="USD",
                        market="spot", tick_size=0.01, lot_size=1e-08),
        make_instrument(venue="coinbase", venue_symbol="NMR-EUR", base="NMR", quote="EUR",
                        market="spot", tick_size=0.001, lot_size=0.001, status="halted"),
    ]  # fmt: skip
    save_listing(listing_path(folder, "coinbase"), "coinbase", instruments, 1_700_000_000_000)


def test_table_and_json_from_the_cache(tmp_path: Path) -> None:
    """The real command, reading LISTING_CACHE_DIR: no venue is asked."""
    cached_coinbase(tmp_path)
    env = {"LISTING_CACHE_DIR": str(tmp_path), "COINBASE_REST_URL": "http://127.0.0.1:9"}
    args = [sys.executable, "-m", "microservices.cli", "--env-file", "/dev/null", "symbols",
            "--venue", "coinbase"]  # fmt: skip
    table = subprocess.run(args, capture_output=True, check=True, timeout=60,
                           env={**_base_env(), **env}).stdout.decode()  # fmt: skip
    assert table.splitlines() == [
        "venue_symbol  symbol  group    base  quote  market  status   tick   lot",
        "BTC-USD       BTCUSD  BTCUSDT  BTC   USD    spot    trading  0.01   1e-08",
        "NMR-EUR       NMREUR  NMREUR   NMR   EUR    spot    halted   0.001  0.001",
    ]
    raw = subprocess.run([*args, "--json"], capture_output=True, check=True, timeout=60,
                         env={**_base_env(), **env}).stdout  # fmt: skip
    rows = orjson.loads(raw)
    assert rows[0] == {
        "venue_symbol": "BTC-USD", "symbol": "BTCUSD", "group": "BTCUSDT", "base": "BTC",
        "quote": "USD", "market": "spot", "inverse": False, "status": "trading",
        "tick_size": 0.01, "lot_size": 1e-08, "contract_size": 1.0, "expiry_ms": None,
    }  # fmt: skip


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "PYTHONPATH", "LANG")}


async def test_fetch_from_the_venue_refreshes_the_cache(
    tmp_path: Path, settings_factory: Any
) -> None:
    async with start_simulator(SimulatorConfig(port=0)) as sim:
        endpoints = exchanges.simulator_endpoints(sim.base_url, sim.ws_base)
        base: Settings = settings_factory(listing_cache_dir=str(tmp_path))
        settings = base.model_copy(update={"endpoints": base.endpoints | endpoints})
        out = io.StringIO()
        await asyncio.to_thread(run_symbols, settings, "bybit", as_json=True, refetch=False,
                                out=out)  # fmt: skip
    rows = orjson.loads(out.getvalue())
    assert [r["venue_symbol"] for r in rows] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert (rows[0]["market"], rows[0]["tick_size"], rows[0]["lot_size"]) == (
        "perpetual",
        0.01,
        0.001,
    )
    cached = read_listing(listing_path(tmp_path, "bybit"))
    assert cached is not None and len(cached.instruments) == 3


def test_unknown_venue_and_venue_down(tmp_path: Path, settings_factory: Any) -> None:
    settings: Settings = settings_factory(listing_cache_dir=str(tmp_path),
                                          coinbase_rest_url="http://127.0.0.1:9")  # fmt: skip
    with pytest.raises(FatalError, match="unknown venue 'kraken'"):
        run_symbols(settings, "kraken", as_json=False, refetch=False, out=io.StringIO())
    with pytest.raises(FatalError, match="coinbase: listing /products failed"):
        run_symbols(settings, "coinbase", as_json=False, refetch=False, out=io.StringIO())


def test_an_unknown_symbol_stops_the_start_with_close_matches(tmp_path: Path) -> None:
    """`run --demo`: the simulator lists BTC, ETH and SOL; ETHUSDX is none of them."""
    env = {**_base_env(), "SYMBOLS": "BTCUSDT,ETHUSDX", "LISTING_CACHE_DIR": ""}
    result = subprocess.run(
        [sys.executable, "-m", "microservices.cli", "--env-file", "/dev/null", "run", "--demo",
         "--no-view", "--duration", "30"],
        capture_output=True, timeout=60, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.decode().splitlines()[-1] == (
        "cross-exchange: unknown symbols in SYMBOLS: ETHUSDX (did you mean ETHUSDT?)"
    )
