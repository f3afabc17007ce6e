"""Gate.io spot and USDT futures: the collector against the exchange simulator, with a real
redis-server.

1. Every record type each venue serves reaches exchange.raw (trades, tickers, 1m klines; on
   futures funding and open interest too), and the books reach exchange.orderbook, synced
   from REST snapshots with `id`; futures sizes are base units (contracts x quanto multiplier).
2. The gap fault (a skipped `order_book_update` on every connection) resyncs: `gap`, a new
   REST snapshot, books published again.
3. A 429 burst on REST (listing, snapshots, polls) is waited out: nothing is sent inside a
   Retry-After window, no error escalates, and the books come up.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aredis

from microservices.common.records import RawRecord, Ticker, Trade
from microservices.common.settings import Settings
from microservices.exchange_simulator.config import FaultConfig, MarketConfig, SimulatorConfig
from microservices.exchange_simulator.events import make_instrument
from tests.fixture_paths import shared_fixture
from tests.integration.collector_harness import (
    book_health,
    eventually,
    full_books,
    raw_records,
    running,
)

pytestmark = pytest.mark.integration
VENUES = ("gateio", "gateio_futures")
SYMBOLS = ("BTCUSDT", "ETHUSDT")
TYPES = {"gateio": ("trade", "ticker", "kline"),
         "gateio_futures": ("trade", "ticker", "kline", "funding", "open_interest")}  # fmt: skip


@pytest.fixture
def settings(redis_server: Any, settings_factory: Any, tmp_path: Path) -> Settings:
    made: Settings = settings_factory(
        redis_url=redis_server.url, venues=",".join(VENUES), symbols=",".join(SYMBOLS),
        ws_reconnect_base_s=0.05, ws_reconnect_cap_s=0.5, ws_silence_timeout_s=5.0,
        rest_poll_interval_s=1.0, rest_history_dir=str(tmp_path / "history"),
        rest_history_lookback_h=0.2, orderbook_full_interval_ms=200,
        listing_cache_dir=str(tmp_path / "listings"),
    )  # fmt: skip
    return made


def config(**faults: Any) -> SimulatorConfig:
    return SimulatorConfig(port=0, market=MarketConfig(symbols=SYMBOLS, seed=5, rate=30.0),
                           venues=VENUES, faults=FaultConfig(**faults))  # fmt: skip


WANTED_BOOKS = {f"{v}:{s}" for v in VENUES for s in SYMBOLS}


async def test_every_record_type_and_the_books_arrive(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    async with running(settings, config(), real_redis) as (_sim, wired):

        async def complete() -> Counter[tuple[str, str, str]] | None:
            records = await raw_records(real_redis, wired)
            seen: Counter[tuple[str, str, str]] = Counter(
                (r.exchange, r.group, str(r.type)) for r in records
            )
            need = [(v, s, t) for v in VENUES for s in SYMBOLS for t in TYPES[v]]
            books = await full_books(real_redis, wired)
            return seen if all(seen[k] for k in need) and set(books) >= WANTED_BOOKS else None

        await eventually(complete)
        books = await full_books(real_redis, wired)
        orderbook: Any = await real_redis.xrange(wired.streams().orderbook.name)
    records = await raw_records(real_redis, wired)
    assert {fields[b"exchange"].decode() for _, fields in orderbook} == set(VENUES)
    step = make_instrument("BTCUSDT").step  # the simulator's quanto multiplier for BTC_USDT
    for record in records:
        assert record.venue_symbol in ("BTC_USDT", "ETH_USDT")
        if isinstance(record, Trade) and record.exchange == "gateio_futures" and (
                record.symbol == "BTCUSDT"):  # fmt: skip
            contracts = record.size / step  # base units: whole contracts times the multiplier
            assert contracts == pytest.approx(round(contracts)) and contracts >= 1
        if isinstance(record, Ticker):
            assert 0 < record.bid <= record.ask
    btc = [r for r in records if r.symbol == "BTCUSDT" and isinstance(r, Trade)]
    assert all(40_000 < r.price < 100_000 for r in btc)
    for key in WANTED_BOOKS:
        book = books[key]
        assert book.bids[0][0] < book.asks[0][0] and (book.sequence or 0) > 0, key
    # futures levels in base units (the simulator's ladder holds ~4,000 USDT a level, so a
    # level is ~0.06 BTC; in contracts of 0.001 BTC it would read ~60)
    for venue in VENUES:
        sizes = sorted(size for _, size in books[f"{venue}:BTCUSDT"].bids)
        assert 0.001 < sizes[len(sizes) // 2] < 1.0, venue
    futures_btc = [r.size for r in btc if r.exchange == "gateio_futures"]
    assert futures_btc and max(futures_btc) < 10.0  # base units, not contracts


async def test_the_gap_fault_resyncs_books_from_new_snapshots(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    async with running(settings, config(depth_gap_every=30), real_redis) as (sim, wired):

        async def gaps() -> dict[str, Any] | None:
            health = await book_health(real_redis, wired)
            counts = [health.get(v, {}).get("resyncs", {}).get("gap", 0) for v in VENUES]
            return health if all(c >= 2 for c in counts) else None

        await eventually(gaps)
        marker = (await real_redis.xinfo_stream(wired.streams().orderbook.name))[
            "last-generated-id"
        ]

        async def published_again() -> bool:
            rows: Any = await real_redis.xrange(wired.streams().orderbook.name, min=marker)
            return {fields[b"exchange"].decode() for _, fields in rows[1:]} >= set(VENUES)

        await eventually(published_again)
        stats = sim.stats()["venues"]
    for venue in VENUES:
        assert stats[venue]["book_diffs_skipped"] >= 2
        snapshots = [p for p in stats[venue]["rest_requests"] if p.endswith("/order_book")]
        assert sum(stats[venue]["rest_requests"][p] for p in snapshots) > len(SYMBOLS)


async def test_a_429_burst_is_waited_out(real_redis: aredis.Redis, settings: Settings) -> None:
    burst = config(rate_limit_burst=5, retry_after_s=1)
    polite = settings.model_copy(update={"rest_circuit_reset_s": 2.0})
    async with running(polite, burst, real_redis) as (sim, wired):

        async def books_up() -> bool:
            return set(await full_books(real_redis, wired)) >= WANTED_BOOKS

        await eventually(books_up)
        stats = sim.stats()["venues"]
    assert sum(stats[v]["rest_429"] for v in VENUES) >= 5
    for venue in VENUES:
        assert stats[venue]["rest_inside_retry_after"] == 0, venue
        assert stats[venue]["rest_418"] == 0


async def test_replayed_real_futures_frames_are_parsed(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    capture = shared_fixture("gateio/ws/futures_usdt_v4.cryptofeed-2023.jsonl")
    symbols = ("PHBUSDT", "RDNTUSDT")
    replay = SimulatorConfig(port=0, market=MarketConfig(symbols=symbols, seed=5),
                             synthetic=False, replay=(capture,), venues=("gateio_futures",),
                             after_replay="idle")  # fmt: skip
    quiet = settings.model_copy(
        update={"venues": ["gateio_futures"], "symbols": list(symbols), "rest_enabled": False,
                "orderbook_enabled": False}
    )  # fmt: skip
    async with running(quiet, replay, real_redis) as (_sim, wired):

        async def replayed() -> list[RawRecord] | None:
            records = await raw_records(real_redis, wired)
            return (
                records if {r.venue_symbol for r in records} >= {"PHB_USDT", "RDNT_USDT"} else None
            )

        records = await eventually(replayed)
    phb = next(r for r in records if r.venue_symbol == "PHB_USDT")
    assert isinstance(phb, Ticker)  # the capture's first frame: t 1684930165621
    assert (phb.ts_ms, phb.bid, phb.ask) == (1684930165621, 0.7379, 0.739)
