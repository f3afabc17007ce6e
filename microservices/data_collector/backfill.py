"""`cross-exchange backfill`: history of venues x symbols of one kind to one Parquet or CSV file.

Uses the same paginated, rate-limited REST collector as the service, with a progress bar per
venue and symbol on stderr counting rows (bars). The file has the unified columns of
`exchange_data_collector.FRAME_COLUMNS` (`exchange` and `symbol` among them), sorted by
exchange, symbol and time; only finished bars. A network or venue error prints one line
naming the venue, the endpoint and the cause, and the command exits 1 without writing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterable
from pathlib import Path

import aiohttp
import pandas as pd
from tqdm import tqdm

from microservices.common.clock import now_ms
from microservices.common.errors import BadMessage, FatalError, TransientError
from microservices.common.records import RawRecord
from microservices.common.settings import Settings
from microservices.data_collector.exchange_data_collector import (
    HOUR_MS,
    MINUTE_MS,
    ExchangeDataCollector,
    Kind,
    closed_only,
    records_to_frame,
)
from microservices.data_collector.exchanges import EXCHANGES
from microservices.data_collector.exchanges.base import Exchange
from microservices.data_collector.registry import build_exchange
from microservices.data_collector.rest_client import RestClient, rest_timeout
from microservices.data_collector.rest_errors import RequestFailed, RequestRejected

SUFFIXES = (".parquet", ".csv")


class BackfillFailed(Exception):
    """A venue or network error, already phrased as the one line to print."""


def split_list(values: Iterable[str], upper: bool = False) -> list[str]:
    """`--venue a,b --venue c` -> [a, b, c] (order kept, duplicates dropped)."""
    items = (v.strip() for value in values for v in value.split(","))
    out = [v.upper() if upper else v.lower() for v in items if v]
    return list(dict.fromkeys(out))


def plan(settings: Settings, venues: list[str], symbols: list[str], kind: Kind) -> list[Exchange]:
    """The venues to ask, each with its symbols; FatalError names any impossible pair."""
    unknown = [v for v in venues if v not in EXCHANGES]
    if unknown:
        raise FatalError(f"unknown venue {unknown[0]!r}; known: {', '.join(sorted(EXCHANGES))}")
    exchanges = []
    for venue in venues:
        exchange = build_exchange(venue, settings.model_copy(update={"symbols": symbols}))
        missing = [s for s in symbols if s not in exchange.symbols]
        if missing:
            raise FatalError(f"{venue} has no instrument for {', '.join(missing)}")
        if not ExchangeDataCollector.supports(kind, exchange, symbols[0]):
            raise FatalError(f"{venue} has no {kind} history (try --kind ohlc)")
        exchanges.append(exchange)
    return exchanges


def expected_rows(kind: Kind, exchange: Exchange, symbol: str, start: int, end: int) -> int:
    """Rows a complete answer holds (the progress bar's total)."""
    period = {
        "ohlc": MINUTE_MS,
        "funding": int(exchange.funding_interval_h(symbol) * HOUR_MS),
        "open_interest": exchange.oi_period_ms,
    }[kind]
    return max(1, (end - start + 1) // period)


async def backfill(
    settings: Settings, venues: list[str], symbols: list[str], kind: Kind, days: float
) -> pd.DataFrame:
    frames = []
    for records in await fetch_history(settings, venues, symbols, kind, days):
        frame = records_to_frame(kind, records)
        frames.append(closed_only(frame) if kind == "ohlc" else frame)
    return combine(kind, frames)


async def fetch_history(
    settings: Settings, venues: list[str], symbols: list[str], kind: Kind, days: float
) -> list[list[RawRecord]]:
    """The records of every venue x symbol asked (one list each), with progress bars."""
    exchanges = plan(settings, venues, symbols, kind)
    end = now_ms() // MINUTE_MS * MINUTE_MS - 1  # the bar still open now is left out
    start = end + 1 - int(days * 86_400_000)
    out: list[list[RawRecord]] = []
    async with aiohttp.ClientSession(timeout=rest_timeout(settings)) as session:
        client = RestClient(session, timeout_s=settings.rest_timeout_s)
        collector = ExchangeDataCollector({ex.name: ex for ex in exchanges}, client)
        for exchange in exchanges:
            for symbol in symbols:
                total = expected_rows(kind, exchange, symbol, start, end)
                with tqdm(total=total, unit="bar" if kind == "ohlc" else "row",
                          desc=f"{exchange.name} {kind} {symbol}") as bar:  # fmt: skip
                    try:
                        records = await collector.fetch_records(
                            kind, exchange.name, symbol, start, end, progress=bar.update
                        )
                    except (TransientError, BadMessage) as exc:
                        bar.leave = False  # the error line replaces the bar
                        raise BackfillFailed(failure_line(exchange.name, exc)) from None
                out.append(records)
    return out


def failure_line(venue: str, exc: Exception) -> str:
    if isinstance(exc, (RequestFailed, RequestRejected)):
        return str(exc)  # "<venue> <endpoint>: <cause>"
    return f"{venue}: {exc}"


def combine(kind: Kind, frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        return records_to_frame(kind, [])
    frame = pd.concat(frames, ignore_index=True)
    return frame.sort_values(["exchange", "symbol", "timestamp"], kind="stable").reset_index(
        drop=True
    )


def write_frame(frame: pd.DataFrame, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        frame.to_parquet(out, index=False)
    else:
        frame.to_csv(out, index=False)


def run_backfill(settings: Settings, ns: argparse.Namespace) -> int:
    venues, symbols = split_list(ns.venue), split_list(ns.symbol, upper=True)
    if getattr(ns, "to_db", False):
        from microservices.storage.backfill_db import run_backfill_to_db

        return run_backfill_to_db(settings, venues, symbols, ns.kind, ns.days)
    if ns.out is None:
        raise FatalError("backfill needs --out FILE or --to-db")
    out = Path(ns.out)
    if out.suffix not in SUFFIXES:
        raise FatalError(f"--out must end in .parquet or .csv, got {out.name}")
    try:
        frame = asyncio.run(backfill(settings, venues, symbols, ns.kind, ns.days))
    except BackfillFailed as exc:
        print(f"cross-exchange backfill: {exc}", file=sys.stderr)
        return 1
    write_frame(frame, out)
    print(f"wrote {len(frame)} rows to {out}")
    return 0
