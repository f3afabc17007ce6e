"""Deribit against the exchange simulator, with a real redis-server: every record type the
venue serves (trades, tickers, 1m klines, funding, open interest, liquidations) reaches
exchange.raw, books reach exchange.orderbook, the gap fault (a skipped book change) breaks the
`prev_change_id` chain and is resynced by resubscribing, a REST 429 (JSON-RPC error 10028)
is waited out, and every `test_request` heartbeat is answered, so the connection lives on
while a client that does not answer is closed.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aredis
from aiohttp import ClientSession, WSMsgType

from microservices.common.backoff import Backoff
from microservices.common.settings import Settings
from microservices.common.streams import build_streams
from microservices.data_collector.exchanges.base import WsConnectionPlan
from microservices.data_collector.exchanges.deribit.exchange import rpc
from microservices.data_collector.venue_status import VenueStatus
from microservices.data_collector.ws_bridge import BridgeParams, WsConnectionRunner
from microservices.exchange_simulator.config import FaultConfig, MarketConfig, SimulatorConfig
from microservices.exchange_simulator.server import start_simulator
from tests.integration.collector_harness import (
    book_entries,
    book_health,
    eventually,
    raw_records,
    rest_burst_survived,
    running,
)
from tests.unit.exchanges.deribit.helpers import LinearFirst

pytestmark = pytest.mark.integration
VENUES = ("deribit",)
SYMBOLS = ("BTCUSDT", "ETHUSDT")
WANTED = ("trade", "ticker", "kline", "funding", "open_interest", "liquidation")
INDEX_TYPES = ("volatility_index", "options_summary")  # of a currency, not of an instrument


@pytest.fixture
def settings(redis_server: Any, settings_factory: Any, tmp_path: Path) -> Settings:
    made: Settings = settings_factory(
        redis_url=redis_server.url, venues=",".join(VENUES), symbols=",".join(SYMBOLS),
        ws_reconnect_base_s=0.05, ws_reconnect_cap_s=0.5, ws_silence_timeout_s=5.0,
        rest_poll_interval_s=1.0, rest_history_dir=str(tmp_path / "history"),
        rest_history_lookback_h=0.5, orderbook_full_interval_ms=200,
    )  # fmt: skip
    return made


def market() -> MarketConfig:
    return MarketConfig(symbols=SYMBOLS, seed=7, rate=30.0, liquidations_per_min=60.0)


async def test_every_record_type_and_the_books_arrive(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    async with running(settings, SimulatorConfig(port=0, market=market()), real_redis) as (
        sim, wired):  # fmt: skip

        async def complete() -> Any:
            records = await raw_records(real_redis, wired)
            seen: Counter[tuple[str, str]] = Counter((r.symbol, r.type) for r in records)
            books = {e.symbol for e in await book_entries(real_redis, wired)}
            need = [(f"{s[:-4]}USD.INV", t) for s in SYMBOLS for t in WANTED]
            need += [(f"{s[:-4]}-DVOL", "volatility_index") for s in SYMBOLS]
            need += [(f"{s[:-4]}-OPTIONS", "options_summary") for s in SYMBOLS]
            return records if all(seen[k] for k in need) and len(books) == 2 else None

        records = await eventually(complete)
        health = await book_health(real_redis, wired)
        stats = sim.stats()["venues"]["deribit"]
    # DVOL and the option-chain summaries of BTC and ETH come beside the instruments' records
    indexes = {(r.type, r.group) for r in records if r.type in INDEX_TYPES}
    assert indexes == {
        ("volatility_index", "BTC-DVOL"),
        ("volatility_index", "ETH-DVOL"),
        ("options_summary", "BTC-OPTIONS"),
        ("options_summary", "ETH-OPTIONS"),
    }
    records = [r for r in records if r.type not in INDEX_TYPES]
    assert {(r.exchange, r.market, r.group) for r in records} == {
        ("deribit", "perp", "BTCUSDT"), ("deribit", "perp", "ETHUSDT")}  # fmt: skip
    # the listing has the linear and the inverse perpetuals: the inverse one is the primary
    assert {r.venue_symbol for r in records} == {"BTC-PERPETUAL", "ETH-PERPETUAL"}
    btc = [r for r in records if r.symbol == "BTCUSD.INV" and r.type == "trade"]
    assert all(40_000 < r.price < 100_000 for r in btc)  # synthetic BTC starts near 65,000
    funding = [r for r in records if r.type == "funding"]
    assert {r.funding_interval_h for r in funding} == {8.0}
    assert {round(r.funding_rate, 8) for r in funding} == {0.00008}  # the venue's default
    oi = [r for r in records if r.type == "open_interest"]
    # inverse contracts are 10 USD (BTC) and 1 USD (ETH): USD value = contracts x contract
    size = {"BTCUSD.INV": 10.0, "ETHUSD.INV": 1.0}
    assert oi and all(r.open_interest_usd == r.open_interest * size[r.symbol] for r in oi)
    assert health["deribit"]["resyncs"].get("gap", 0) == 0
    assert stats["rest_inside_retry_after"] == 0


async def test_a_skipped_book_change_is_a_gap_and_resubscribes(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    # no REST, so no listing: the naming rule picks the primary, for BTC and ETH the inverse
    # perpetuals the simulator does not list; SOL has only the linear SOL_USDC-PERPETUAL
    sol = MarketConfig(symbols=("SOLUSDT",), seed=7, rate=30.0)
    # a gap every 100 changes (~3 s at this rate): each resync cycle publishes a few book
    # entries before the next gap, even once the resubscribe backoff has grown
    config = SimulatorConfig(port=0, market=sol, faults=FaultConfig(depth_gap_every=100))
    settings = settings.model_copy(update={"rest_enabled": False, "symbols": ["SOLUSDT"]})
    async with running(settings, config, real_redis) as (sim, wired):

        async def resynced() -> Any:
            health = await book_health(real_redis, wired)
            gaps = health.get("deribit", {}).get("resyncs", {}).get("gap", 0)
            return health if gaps >= 2 else None

        await eventually(resynced, timeout_s=60)
        before = len(await book_entries(real_redis, wired))
        await eventually(lambda: _more_books(real_redis, wired, before + 20), timeout_s=90)
        skipped = sim.stats()["venues"]["deribit"]["book_diffs_skipped"]
    assert skipped >= 2


async def _more_books(redis: aredis.Redis, settings: Settings, count: int) -> bool:
    return len(await book_entries(redis, settings)) >= count


async def test_a_429_burst_is_waited_out(real_redis: aredis.Redis, settings: Settings) -> None:
    faults = FaultConfig(rate_limit_burst=4, retry_after_s=1)
    # the burst can fail the listing: then the naming rule picks the primary, for BTC and ETH
    # the inverse perpetuals the simulator does not list; SOL has only SOL_USDC-PERPETUAL
    sol = MarketConfig(symbols=("SOLUSDT",), seed=7, rate=30.0)
    config = SimulatorConfig(port=0, market=sol, faults=faults)
    settings = settings.model_copy(update={"symbols": ["SOLUSDT"]})
    stats = await rest_burst_survived(
        real_redis, settings, config, "deribit", lambda r: r.type == "open_interest"
    )
    assert stats["rest_inside_retry_after"] == 0
    assert stats["rest_418"] == 0


class Sink:
    def __init__(self) -> None:
        self.records: list[Any] = []

    def publish(self, stream: Any, record: Any) -> None:
        self.records.append(record)


async def test_test_requests_are_answered_and_silence_closes() -> None:
    """The bridge answers each test_request with public/test (10 s heartbeats, Deribit's
    minimum); a client that sets a heartbeat and never answers is closed when the next is due."""
    config = SimulatorConfig(port=0, market=MarketConfig(symbols=("BTCUSDT",), seed=2))
    async with start_simulator(config) as sim:
        exchange = LinearFirst(("BTCUSDT",), sim.ws_url("deribit"), sim.rest_url("deribit"))
        url = f"{sim.ws_url('deribit')}/ws/api/v2"
        subscribe = exchange.ws_connections()[0].subscribe[1:]
        heartbeat = rpc("public/set_heartbeat", {"interval": 10}, 1)
        plan = WsConnectionPlan("deribit#0", url, (heartbeat, *subscribe), ("BTCUSDT",))
        status, sink = VenueStatus(), Sink()
        params = BridgeParams(backoff=Backoff(base_s=0.01, cap_s=0.05, jitter=0.0),
                              silence_timeout_s=5.0)  # fmt: skip
        status.register(plan.label, "deribit", params.silence_timeout_s)
        runner = WsConnectionRunner(exchange, plan, sink, build_streams("t:").raw,  # type: ignore[arg-type]
                                    status, params)  # fmt: skip
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        try:
            silent = await asyncio.wait_for(_unanswering_client(url, heartbeat), timeout=40)
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=10)
        stats = sim.stats()["venues"]["deribit"]
    assert silent == 1  # closed when the next one came due, the first unanswered
    assert stats["pongs_sent"] >= 2  # the runner's public/test answers
    assert stats["ws_opened"] == 2 and stats["server_closes"] == 1  # only the silent one
    assert sink.records


async def _unanswering_client(url: str, heartbeat: str) -> int:
    """Set a heartbeat, subscribe, never answer: the number of test_requests before close."""
    channels = {"channels": ["ticker.BTC_USDC-PERPETUAL.100ms"]}
    requests = 0
    async with ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_str(heartbeat)
        await ws.send_str(rpc("public/subscribe", channels, 2))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            if '"test_request"' in msg.data:
                requests += 1
    return requests
