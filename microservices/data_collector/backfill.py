"""`cross-exchange backfill`: history of one venue/symbol to a Parquet or CSV file.

Uses the same paginated, rate-limited REST collector as the service, with a progress bar on
stderr. The output has the unified columns of `exchange_data_collector.FRAME_COLUMNS`.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import aiohttp
import pandas as pd
from tqdm import tqdm

from microservices.common.clock import now_ms
from microservices.common.errors import FatalError
from microservices.common.settings import Settings
from microservices.data_collector.exchange_data_collector import ExchangeDataCollector, Kind
from microservices.data_collector.exchanges import EXCHANGES
from microservices.data_collector.registry import build_exchange
from microservices.data_collector.rest_client import RestClient, rest_timeout


async def backfill(
    settings: Settings, venue: str, symbol: str, kind: Kind, days: float
) -> pd.DataFrame:
    exchange = build_exchange(venue, settings.model_copy(update={"symbols": [symbol]}))
    if symbol not in exchange.symbols:
        raise FatalError(f"{venue} has no instrument for {symbol}")
    end = now_ms()
    start = end - int(days * 86_400_000)
    async with aiohttp.ClientSession(timeout=rest_timeout(settings)) as session:
        client = RestClient(session, timeout_s=settings.rest_timeout_s)
        collector = ExchangeDataCollector({venue: exchange}, client)
        with tqdm(total=end - start + 1, unit="ms", unit_scale=True, desc=f"{venue} {kind}") as bar:

            def advance(span_ms: int) -> None:
                bar.update(span_ms)

            return await collector.fetch(kind, venue, symbol, start, end, progress=advance)


def write_frame(frame: pd.DataFrame, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        frame.to_parquet(out, index=False)
    elif out.suffix == ".csv":
        frame.to_csv(out, index=False)
    else:
        raise FatalError(f"--out must end in .parquet or .csv, got {out.name}")


def run_backfill(settings: Settings, ns: argparse.Namespace) -> int:
    venue = ns.venue.lower()
    if venue not in EXCHANGES:
        raise FatalError(f"unknown venue {venue!r}; known: {', '.join(sorted(EXCHANGES))}")
    out = Path(ns.out)
    if out.suffix not in (".parquet", ".csv"):
        raise FatalError(f"--out must end in .parquet or .csv, got {out.name}")
    frame = asyncio.run(backfill(settings, venue, ns.symbol.upper(), ns.kind, ns.days))
    write_frame(frame, out)
    print(f"wrote {len(frame)} rows to {out}")
    return 0
