"""The collector's L2 books against the exchange simulator, with a real redis-server (issue 13).

1. Every venue's books reach `exchange.orderbook` and the full-book hash; each whole book's
   depth figures are recomputed here from its levels, by a walk written in this test.
2. The simulator's gap fault (a skipped depth update on every connection): Binance books are
   thrown away as `gap`, rebuilt from new REST snapshots, and published again; Bybit shows a
   `u` jump, which its protocol does not define as a gap.
3. The depth snapshot endpoint answering 429 (or 503) six times: the REST client waits out each
   Retry-After window, gives up after its attempts (counted), opens its circuit; the book
   loop asks again after a backoff, and the books come up, with no ban.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aredis

from microservices.common import metrics
from microservices.common.book_schema import BookTop
from microservices.common.settings import Settings
from microservices.data_collector import exchanges
from microservices.exchange_simulator.config import FaultConfig, MarketConfig, SimulatorConfig
from tests.integration.collector_harness import (
    book_entries,
    book_health,
    eventually,
    full_books,
    running,
)

pytestmark = pytest.mark.integration
VENUES = tuple(exchanges.default_venues())
SYMBOLS = ("BTCUSDT", "ETHUSDT")


@pytest.fixture
def settings(redis_server: Any, settings_factory: Any, tmp_path: Path) -> Settings:
    made: Settings = settings_factory(
        redis_url=redis_server.url, venues=",".join(VENUES), symbols=",".join(SYMBOLS),
        ws_reconnect_base_s=0.05, ws_reconnect_cap_s=0.5, rest_enabled=False,
        orderbook_full_interval_ms=200,
    )  # fmt: skip
    return made


def walk_depth(levels: list[tuple[float, float]], mid: float, bps: float) -> float:
    """Notional of the levels within `bps` of mid, both edges included (independent walk)."""
    band = mid * bps / 10_000
    return math.fsum(p * s for p, s in levels if abs(p - mid) <= band * (1 + 1e-9))


def market() -> MarketConfig:
    return MarketConfig(symbols=SYMBOLS, seed=11, rate=20.0)


async def test_every_venue_publishes_books_and_whole_books_add_up(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    async with running(settings, SimulatorConfig(port=0, market=market()), real_redis) as (
        _sim, wired):  # fmt: skip
        wanted = {f"{v}:{s}" for v in VENUES for s in SYMBOLS}

        async def all_books() -> dict[str, BookTop] | None:
            books = await full_books(real_redis, wired)
            return books if set(books) >= wanted else None

        books = await eventually(all_books)
        published = await book_entries(real_redis, wired)
    assert {(e.exchange, e.group) for e in published} >= {(v, s) for v in VENUES for s in SYMBOLS}
    for key, book in books.items():
        assert book.bid_levels == len(book.bids) and book.ask_levels == len(book.asks), key
        assert book.bids[0][0] < book.asks[0][0], key
        for bps, bid, ask in ((10, book.bid_depth_10bps, book.ask_depth_10bps),
                              (50, book.bid_depth_50bps, book.ask_depth_50bps)):  # fmt: skip
            assert bid == pytest.approx(walk_depth(book.bids, book.mid, bps), rel=1e-11), key
            assert ask == pytest.approx(walk_depth(book.asks, book.mid, bps), rel=1e-11), key
    assert all(b.bid_levels <= 50 for k, b in books.items() if k.startswith("bybit:"))
    assert {b.venue_symbol for k, b in books.items() if k.startswith("coinbase:")} == {
        "BTC-USD", "ETH-USD"}  # fmt: skip
    for entry in published:
        assert len(entry.bids) <= 20 and len(entry.asks) <= 20
        assert entry.sequence is None if entry.exchange == "coinbase" else (entry.sequence or 0) > 0


async def test_the_gap_fault_resyncs_binance_books_from_new_snapshots(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    config = SimulatorConfig(port=0, market=market(), faults=FaultConfig(depth_gap_every=40))
    async with running(settings, config, real_redis) as (_sim, wired):

        async def gaps_seen() -> dict[str, Any] | None:
            health = await book_health(real_redis, wired)
            gaps = [health.get(v, {}).get("resyncs", {}).get("gap", 0) for v in
                    ("binance", "binance_futures")]  # fmt: skip
            return health if all(g >= 2 for g in gaps) else None

        health = await eventually(gaps_seen, 60)
        marker = (await real_redis.xinfo_stream(wired.streams().orderbook.name))[
            "last-generated-id"
        ]

        async def published_again() -> bool:
            rows: Any = await real_redis.xrange(wired.streams().orderbook.name, min=marker)
            venues = {fields[b"exchange"].decode() for _, fields in rows[1:]}
            return {"binance", "binance_futures"} <= venues

        await eventually(published_again)
    assert "gap" not in health["bybit"].get("resyncs", {})  # Bybit's u jumps are not gaps
    assert health["binance"]["live"] >= 1


@pytest.mark.parametrize("refusal", ["429", "503"])
async def test_snapshots_wait_out_refusals_then_the_books_come_up(
    real_redis: aredis.Redis, settings: Settings, refusal: str
) -> None:
    failed = metrics.BOOK_SNAPSHOTS.labels("binance", "failed")
    before = failed._value.get()
    # one symbol, so one snapshot request chain: 6 refusals > the REST client's 4 attempts,
    # so the first request fails for good (counted) and a later one gets the snapshot
    if refusal == "429":
        binance = FaultConfig(rate_limit_burst=6, retry_after_s=1)
    else:
        binance = FaultConfig(server_error_burst=6)
    config = SimulatorConfig(port=0, market=market(), venue_faults={"binance": binance})
    polite = settings.model_copy(update={"rest_circuit_reset_s": 2.0, "symbols": ["BTCUSDT"]})
    async with running(polite, config, real_redis) as (sim, wired):

        async def binance_books() -> bool:
            books = await full_books(real_redis, wired)
            return "binance:BTCUSDT" in books

        await eventually(binance_books)
        refused = sim.stats()["venues"]["binance"]
    assert failed._value.get() > before
    assert refused["rest_429" if refusal == "429" else "rest_5xx"] == 6
    assert refused["rest_418"] == 0 and refused["rest_inside_retry_after"] == 0
