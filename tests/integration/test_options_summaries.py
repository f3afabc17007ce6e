"""Options summaries end to end: the simulator's Deribit option chains (BTC, ETH) polled by the
collector's OptionsPoller over real HTTP into a real redis-server (`exchange.raw` and the
`collector.options` hash), then `GET /api/v1/options/{currency}` over real HTTP (uvicorn on a
free port): the summary, 404 for an unknown currency, 503 before any summary, a bad hash
value left out, and a failing venue counted without a crash."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import pytest
import redis.asyncio as aredis
import uvicorn
from fastapi import FastAPI

from microservices.ai_engine.options_api import add_options_route
from microservices.common import metrics
from microservices.common.producer import StreamProducer
from microservices.common.records import OptionsSummary
from microservices.common.redis_server import free_port
from microservices.common.settings import Settings
from microservices.common.streams import collector_key
from microservices.data_collector.exchanges.deribit.exchange import Deribit
from microservices.data_collector.options_poller import OptionsPoller
from microservices.data_collector.rest_client import RestClient
from microservices.exchange_simulator.config import MarketConfig, SimulatorConfig
from microservices.exchange_simulator.server import start_simulator

pytestmark = pytest.mark.integration


@pytest.fixture
async def api(real_redis: aredis.Redis, settings_factory: Any) -> AsyncIterator[tuple[str, Any]]:
    settings: Settings = settings_factory()
    app = FastAPI()
    add_options_route(app, real_redis, settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}", settings
    server.should_exit = True
    await asyncio.wait_for(task, timeout=10)


async def poll(settings: Settings, redis: aredis.Redis, rest_url: str) -> OptionsPoller:
    exchange = Deribit(("BTCUSDT",), "ws://unused.invalid", rest_url)
    producer = StreamProducer(redis)
    async with aiohttp.ClientSession() as session:
        client = RestClient(session, timeout_s=5)
        key = collector_key(settings.stream_prefix, "options")
        poller = OptionsPoller({"deribit": exchange}, client, producer, settings.streams().raw,
                               redis, key, 60.0)  # fmt: skip
        await poller.poll_once()
    await producer.flush()
    return poller


async def chain(rest_url: str, currency: str) -> list[dict[str, Any]]:
    params = {"currency": currency, "kind": "option"}
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"{rest_url}/api/v2/public/get_book_summary_by_currency",
                                  params=params)  # fmt: skip
    rows: list[dict[str, Any]] = answer.json()["result"]
    return rows


async def test_simulated_chains_polled_stored_and_served(
    api: tuple[str, Settings], real_redis: aredis.Redis
) -> None:
    base, settings = api
    # volatility 0: the index stays put between the poll and the test's own request
    market = MarketConfig(symbols=("BTCUSDT", "ETHUSDT"), seed=5, volatility=0.0)
    config = SimulatorConfig(port=0, market=market)
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        before = await http.get("/api/v1/options/BTC")
        assert before.status_code == 503 and "no options summary of BTC yet" in before.text
        async with start_simulator(config) as sim:
            rest_url = sim.rest_url("deribit")
            poller = await poll(settings, real_redis, rest_url)
            rows = await chain(rest_url, "BTC")
        assert poller.published == 2
        health = poller.health()["deribit"]
        assert {c: (h["outcome"], h.get("instruments")) for c, h in health.items()} == {
            "BTC": ("ok", 30), "ETH": ("ok", 30)}  # fmt: skip
        entries: Any = await real_redis.xrange(settings.streams().raw.name)
        records = [settings.streams().raw.schema.decode(fields) for _, fields in entries]
        assert [(r.type, r.currency) for r in records] == [
            ("options_summary", "BTC"), ("options_summary", "ETH")]  # fmt: skip
        btc = records[0]
        assert isinstance(btc, OptionsSummary)
        # the sums of the chain the simulator served, worked here from its rows
        calls = [r for r in rows if r["instrument_name"].endswith("-C")]
        puts = [r for r in rows if r["instrument_name"].endswith("-P")]
        index = rows[0]["estimated_delivery_price"]
        oi = sum(r["open_interest"] for r in rows)
        assert (btc.instruments, btc.index_price) == (30, index)
        assert btc.open_interest == pytest.approx(oi)
        assert btc.open_interest_usd == pytest.approx(oi * index)
        assert btc.put_call_oi_ratio == pytest.approx(
            sum(r["open_interest"] for r in puts) / sum(r["open_interest"] for r in calls)
        )
        assert btc.volume_24h_usd == pytest.approx(sum(r["volume_usd"] for r in rows))

        body = (await http.get("/api/v1/options/btc")).json()
        assert body["currency"] == "BTC"
        (served,) = body["summaries"]
        assert served["venue"] == "deribit" and served["instruments"] == 30
        assert served["open_interest"] == pytest.approx(btc.open_interest)
        assert served["put_call_volume_ratio"] == pytest.approx(btc.put_call_volume_ratio)
        assert served["index_price"] == index

        unknown = await http.get("/api/v1/options/XRP")
        assert unknown.status_code == 404
        assert unknown.json()["detail"] == "no options summary of 'XRP'; currencies: BTC, ETH"

        key = collector_key(settings.stream_prefix, "options")
        await real_redis.hset(key, "deribit:ETH", b"{not json")
        broken = await http.get("/api/v1/options/ETH")
        assert broken.status_code == 503  # the bad value is left out


async def test_a_venue_that_fails_is_counted(
    api: tuple[str, Settings], real_redis: aredis.Redis
) -> None:
    """Nothing listens at the REST URL: every currency's poll fails, nothing is stored."""
    _, settings = api
    failed = metrics.OPTIONS_POLLS.labels("deribit", "BTC", "failed")
    start = failed._value.get()
    poller = await poll(settings, real_redis, f"http://127.0.0.1:{free_port()}/deribit")
    assert poller.published == 0
    assert {c: h["outcome"] for c, h in poller.health()["deribit"].items()} == {
        "BTC": "failed", "ETH": "failed"}  # fmt: skip
    assert failed._value.get() == start + 1
    assert await real_redis.hgetall(collector_key(settings.stream_prefix, "options")) == {}
