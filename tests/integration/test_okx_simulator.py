"""OKX (SWAP `okx`, SPOT `okx_spot`) against the exchange simulator, with a real redis-server:
every record type the venues serve reaches exchange.raw (candles from the business endpoint,
the rest from the public one), books reach exchange.orderbook with every update's seqId
chain and CRC32 checksum verified, the gap fault (a skipped book update) breaks the chain and
is resynced by resubscribing, and a REST 429 burst (OKX code 50011) is waited out without a
request inside its Retry-After window.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import redis.asyncio as aredis

from microservices.common.records import Funding, OpenInterest, Trade
from microservices.common.settings import Settings
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

pytestmark = pytest.mark.integration
VENUES = ("okx", "okx_spot")
SYMBOLS = ("BTCUSDT", "ETHUSDT")
WANTED: dict[str, tuple[str, ...]] = {
    "okx": ("trade", "ticker", "kline", "funding", "open_interest", "liquidation"),
    "okx_spot": ("trade", "ticker", "kline"),
}


@pytest.fixture
def settings(redis_server: Any, settings_factory: Any, tmp_path: Path) -> Settings:
    made: Settings = settings_factory(
        redis_url=redis_server.url, venues=",".join(VENUES), symbols=",".join(SYMBOLS),
        ws_reconnect_base_s=0.05, ws_reconnect_cap_s=0.5, ws_silence_timeout_s=5.0,
        rest_poll_interval_s=1.0, rest_history_dir=str(tmp_path / "history"),
        rest_history_lookback_h=0.5, orderbook_full_interval_ms=200,
    )  # fmt: skip
    return made


async def history_synced(history: Path) -> bool:
    """REST history files (30 min back: no 8 h funding settlement falls inside it)."""
    wanted = [history / "okx" / kind / "BTCUSDT.csv" for kind in ("ohlc", "open_interest")]
    wanted.append(history / "okx_spot" / "ohlc" / "BTCUSDT.csv")
    return all(path.exists() for path in wanted)


def market() -> MarketConfig:
    return MarketConfig(symbols=SYMBOLS, seed=5, rate=30.0, liquidations_per_min=120.0)


async def test_every_record_type_and_the_books_arrive(
    real_redis: aredis.Redis, settings: Settings, tmp_path: Path
) -> None:
    async with running(settings, SimulatorConfig(port=0, market=market()), real_redis) as (
        sim, wired):  # fmt: skip

        async def complete() -> Any:
            records = await raw_records(real_redis, wired)
            seen: Counter[tuple[str, str, str]] = Counter(
                (r.exchange, r.symbol, str(r.type)) for r in records
            )
            books = {(e.exchange, e.symbol) for e in await book_entries(real_redis, wired)}
            need = [(v, s, t) for v, types in WANTED.items() for s in SYMBOLS for t in types
                    if t != "liquidation"]  # fmt: skip
            liquidations = any(k[0] == "okx" and k[2] == "liquidation" for k in seen)
            done = (
                all(seen[k] for k in need)
                and liquidations
                and books >= {(v, s) for v in VENUES for s in SYMBOLS}
            )
            return seen if done else None

        await eventually(complete, timeout_s=60)
        await eventually(lambda: history_synced(tmp_path / "history"), timeout_s=60)
        health = await book_health(real_redis, wired)
        stats = sim.stats()["venues"]["okx"]
    records = await raw_records(real_redis, wired)
    assert all(r.market == ("spot" if r.exchange == "okx_spot" else "perp") for r in records)
    btc = [r for r in records if r.symbol == "BTCUSDT" and isinstance(r, Trade)]
    assert all(40_000 < r.price < 100_000 for r in btc)  # synthetic BTC starts near 65,000
    # swap sizes travel as whole contracts of one quantity step: back in base units here
    assert all(0 < r.size < 10 for r in btc)
    funding = [r for r in records if isinstance(r, Funding)]
    assert {r.funding_interval_h for r in funding} == {8.0}  # nextFundingTime - fundingTime
    assert all(r.next_funding_time_ms for r in funding)
    ois = [r for r in records if isinstance(r, OpenInterest) and r.symbol == "BTCUSDT"]
    assert all(r.open_interest_usd and r.open_interest_usd > 1e6 for r in ois)
    # swap book sizes travel as contracts and are kept in base units: the swap's depth is
    # of the spot book's order (in contracts it would be 1,000 times larger)
    tops = {e.exchange: e for e in await book_entries(real_redis, wired) if e.symbol == "BTCUSDT"}
    ratio = tops["okx"].bid_depth_50bps / tops["okx_spot"].bid_depth_50bps
    assert 0.1 < ratio < 10, ratio
    for venue in VENUES:  # every update chained and matched its checksum
        assert health[venue]["resyncs"].get("checksum", 0) == 0, health[venue]
        assert health[venue]["resyncs"].get("gap", 0) == 0, health[venue]
    assert stats["rest_inside_retry_after"] == 0


async def test_a_skipped_book_update_breaks_the_chain_and_resubscribes(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    config = SimulatorConfig(port=0, market=market(), faults=FaultConfig(depth_gap_every=30))
    settings = settings.model_copy(update={"rest_enabled": False})
    async with running(settings, config, real_redis) as (sim, wired):

        async def resynced() -> Any:
            health = await book_health(real_redis, wired)
            counts = [health.get(v, {}).get("resyncs", {}).get("gap", 0) for v in VENUES]
            return health if all(c >= 2 for c in counts) else None

        health = await eventually(resynced, timeout_s=60)
        before = len(await book_entries(real_redis, wired))
        await eventually(lambda: _more_books(real_redis, wired, before + 20))
        skipped = sim.stats()["venues"]["okx"]["book_diffs_skipped"]
    assert skipped >= 4
    for venue in VENUES:  # the seqId chain catches the loss before the checksum can
        assert health[venue]["resyncs"].get("checksum", 0) == 0, health[venue]


async def _more_books(redis: aredis.Redis, settings: Settings, count: int) -> bool:
    return len(await book_entries(redis, settings)) >= count


async def test_a_429_burst_is_waited_out(real_redis: aredis.Redis, settings: Settings) -> None:
    """Swaps and spot share OKX's (and the simulator's) REST host: one Retry-After window
    covers both, so neither sends inside it."""
    faults = FaultConfig(rate_limit_burst=4, retry_after_s=1)
    config = SimulatorConfig(port=0, market=market(), faults=faults)
    stats = await rest_burst_survived(
        real_redis, settings, config, "okx",
        lambda r: isinstance(r, Funding) and r.mark_price is None,
    )  # fmt: skip
    assert stats["rest_inside_retry_after"] == 0
    assert stats["rest_418"] == 0


async def next_text(ws: aiohttp.ClientWebSocketResponse, want: str) -> str:
    """The next text frame containing `want` (others are skipped)."""
    while True:
        msg = await asyncio.wait_for(ws.receive(), timeout=10)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        if want in msg.data:
            return str(msg.data)


async def test_the_dialect_speaks_okx() -> None:
    """Acks per arg, the wrong-endpoint error, text ping/pong, the spot hand-over on one URL,
    books with a chained seqId."""
    config = SimulatorConfig(port=0, market=market())
    async with start_simulator(config) as sim, aiohttp.ClientSession() as http:
        public, business = (
            sim.ws_url("okx") + "/ws/v5/public",
            sim.ws_url("okx") + "/ws/v5/business",
        )
        async with http.ws_connect(public) as ws:
            await ws.send_str('{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT-SWAP"},'
                              '{"channel":"candle1m","instId":"BTC-USDT-SWAP"}]}')  # fmt: skip
            ack = orjson.loads(await next_text(ws, '"event":"subscribe"'))
            assert ack["arg"] == {"channel": "books", "instId": "BTC-USDT-SWAP"}
            error = orjson.loads(await next_text(ws, '"event":"error"'))
            assert error["code"] == "60018" and "candle1m" in error["msg"]
            snapshot = orjson.loads(await next_text(ws, '"action":"snapshot"'))["data"][0]
            update = orjson.loads(await next_text(ws, '"action":"update"'))["data"][0]
            assert snapshot["prevSeqId"] == -1 and update["prevSeqId"] == snapshot["seqId"]
            assert isinstance(update["checksum"], int) and update["checksum"] != 0
            await ws.send_str("ping")
            assert await next_text(ws, "pong") == "pong"
        async with http.ws_connect(business) as ws:  # spot on the same URL: okx_spot's
            await ws.send_str(
                '{"op":"subscribe","args":[{"channel":"candle1m","instId":"BTC-USDT"}]}'
            )
            await next_text(ws, '"event":"subscribe"')
            candle = orjson.loads(await next_text(ws, '"channel":"candle1m"'))
            assert candle["arg"]["instId"] == "BTC-USDT" and len(candle["data"][0]) == 9


async def test_the_rest_dialect_speaks_okx() -> None:
    """The v5 envelope, newest-first candles, funding history at the venue's rate, and OKX's
    error codes for an unknown instrument and for spot funding."""
    config = SimulatorConfig(port=0, market=market())
    async with start_simulator(config) as sim, aiohttp.ClientSession() as http:
        api = sim.rest_url("okx") + "/api/v5"
        async with http.get(api + "/public/instruments?instType=SWAP") as resp:
            rows = (await resp.json())["data"]
        assert rows[0]["instId"] == "BTC-USDT-SWAP" and rows[0]["ctType"] == "linear"
        async with http.get(
            api + "/market/history-candles?instId=BTC-USDT-SWAP&bar=1m&limit=3"
        ) as resp:
            candles = (await resp.json())["data"]
        assert len(candles) == 3 and int(candles[0][0]) > int(candles[1][0])  # newest first
        async with http.get(api + "/public/funding-rate-history?instId=BTC-USDT-SWAP") as resp:
            funding = (await resp.json())["data"]
        assert funding and {r["fundingRate"] for r in funding} == {"0.0002"}
        async with http.get(api + "/public/open-interest?instId=NOPE-USDT-SWAP") as resp:
            assert resp.status == 400 and (await resp.json())["code"] == "51001"
        async with http.get(api + "/public/funding-rate?instId=BTC-USDT") as resp:
            assert resp.status == 400  # spot has no funding
