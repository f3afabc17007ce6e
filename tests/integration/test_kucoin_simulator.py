"""KuCoin (spot `kucoin`, USDT perpetuals `kucoin_futures`) against the exchange simulator, with
a real redis-server: every connection first gets its endpoint and token from bullet-public,
waits for `welcome`, then every record type the venues serve reaches exchange.raw and the
50-level books reach exchange.orderbook (futures sizes in base units); the gap fault loses
whole depth snapshots, which needs no resync; a REST 429 burst is waited out.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
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
    running,
)

pytestmark = pytest.mark.integration
VENUES = ("kucoin", "kucoin_futures")
SYMBOLS = ("BTCUSDT", "ETHUSDT")
WANTED: dict[str, tuple[str, ...]] = {
    "kucoin": ("trade", "ticker", "kline"),
    "kucoin_futures": ("trade", "ticker", "funding", "open_interest"),
}


@pytest.fixture
def settings(redis_server: Any, settings_factory: Any, tmp_path: Path) -> Settings:
    made: Settings = settings_factory(
        redis_url=redis_server.url, venues=",".join(VENUES), symbols=",".join(SYMBOLS),
        ws_reconnect_base_s=0.05, ws_reconnect_cap_s=0.5, ws_silence_timeout_s=5.0,
        rest_poll_interval_s=1.0, orderbook_full_interval_ms=200,
    )  # fmt: skip
    return made


def market() -> MarketConfig:
    return MarketConfig(symbols=SYMBOLS, seed=7, rate=30.0)


async def books_live(
    redis: aredis.Redis, settings: Settings, venues: tuple[str, ...]
) -> dict[str, Any] | None:
    """The health's books once every symbol's book of `venues` is live."""
    health = await book_health(redis, settings)
    live = all(health.get(v, {}).get("live") == len(SYMBOLS) for v in venues)
    return health if live else None


async def all_arrived(redis: aredis.Redis, settings: Settings) -> Counter[Any] | None:
    seen: Counter[tuple[str, str, str]] = Counter(
        (r.exchange, r.symbol, r.type) for r in await raw_records(redis, settings)
    )
    books = {(e.exchange, e.symbol) for e in await book_entries(redis, settings)}
    need = [(v, s, t) for v, types in WANTED.items() for s in SYMBOLS for t in types]
    done = all(seen[k] for k in need) and books >= {(v, s) for v in VENUES for s in SYMBOLS}
    return seen if done else None


async def test_every_record_type_and_the_books_arrive(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    async with running(settings, SimulatorConfig(port=0, market=market()), real_redis) as (
        sim, wired):  # fmt: skip
        await eventually(lambda: all_arrived(real_redis, wired))
        health = await eventually(lambda: books_live(real_redis, wired, VENUES))
        stats = sim.stats()["venues"]
    records = await raw_records(real_redis, wired)
    assert {r.market for r in records if r.exchange == "kucoin"} == {"spot"}
    assert {r.market for r in records if r.exchange == "kucoin_futures"} == {"perp"}
    assert {r.venue_symbol for r in records if r.exchange == "kucoin_futures"} == {
        "XBTUSDTM", "ETHUSDTM"}  # fmt: skip
    btc = [r for r in records if r.symbol == "BTCUSDT" and isinstance(r, Trade)]
    assert btc and all(40_000 < r.price < 100_000 for r in btc)  # synthetic BTC near 65,000
    # futures trades come in contracts of 0.001 BTC (the listing's multiplier): base units
    sizes = [r.size for r in btc if r.exchange == "kucoin_futures"]
    assert sizes and all(abs(s / 0.001 - round(s / 0.001)) < 1e-6 for s in sizes)
    funding = [r for r in records if isinstance(r, Funding)]
    assert {r.funding_interval_h for r in funding} == {8.0}  # granularity 28,800,000 ms
    assert all(r.funding_rate == pytest.approx(0.0001) for r in funding)
    assert all(r.next_funding_time_ms for r in funding)
    oi = [r for r in records if isinstance(r, OpenInterest)]
    assert all(r.open_interest > 0 and r.open_interest_usd for r in oi)
    for venue in VENUES:  # whole snapshots every push: nothing to resync
        assert health[venue]["live"] == len(SYMBOLS), health[venue]
        assert not health[venue]["resyncs"].get("crossed"), health[venue]
    for venue in VENUES:  # a connection per plan, each from one bullet-public token
        assert stats[venue]["ws_opened"] >= 1
        assert stats[venue]["rest_inside_retry_after"] == 0


async def test_futures_books_are_in_base_units(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    settings = settings.model_copy(update={"venues": ["kucoin_futures"], "rest_enabled": False})
    async with running(settings, SimulatorConfig(port=0, market=market()), real_redis) as (
        sim, wired):  # fmt: skip
        await eventually(lambda: _books_of(real_redis, wired, "kucoin_futures", 5))
    btc = [e for e in await book_entries(real_redis, wired) if e.symbol == "BTCUSDT"]
    sizes = [size for e in btc for _, size in (*e.bids, *e.asks)]
    assert sizes and all(abs(s / 0.001 - round(s / 0.001)) < 1e-6 for s in sizes)
    assert max(sizes) < 1_000  # BTC, not contracts of 0.001 BTC


async def _books_of(redis: aredis.Redis, settings: Settings, venue: str, count: int) -> bool:
    entries = [e for e in await book_entries(redis, settings) if e.exchange == venue]
    return len(entries) >= count


async def test_lost_depth_snapshots_need_no_resync(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    config = SimulatorConfig(port=0, market=market(), faults=FaultConfig(depth_gap_every=5))
    settings = settings.model_copy(update={"rest_enabled": False})
    async with running(settings, config, real_redis) as (sim, wired):
        await eventually(lambda: _books_of(real_redis, wired, "kucoin", 40))
        health = await eventually(lambda: books_live(real_redis, wired, ("kucoin",)))
        skipped = sim.stats()["venues"]["kucoin"]["book_diffs_skipped"]
    assert skipped >= 8
    assert health["kucoin"]["live"] == len(SYMBOLS)
    assert sum(health["kucoin"]["resyncs"].values()) == 0, health["kucoin"]


async def test_a_429_burst_is_waited_out(real_redis: aredis.Redis, settings: Settings) -> None:
    """The burst is armed once the sockets are up: bullet-public (the connect path) keeps
    its own Retry-After, the REST client its own window per venue."""
    settings = settings.model_copy(update={"venues": ["kucoin_futures"]})
    async with running(settings, SimulatorConfig(port=0, market=market()), real_redis) as (
        sim, wired):  # fmt: skip
        await eventually(lambda: _books_of(real_redis, wired, "kucoin_futures", 2))
        sim.set_faults("kucoin_futures", rate_limit_burst=4, retry_after_s=1)
        armed = len(await raw_records(real_redis, wired))

        async def polled() -> Any:
            stats = sim.stats()["venues"].get("kucoin_futures", {})
            later = (await raw_records(real_redis, wired))[armed:]
            funding = [r for r in later if r.type == "funding"]
            return stats if stats.get("rest_429", 0) >= 4 and funding else None

        stats = await eventually(polled, timeout_s=60)
    assert stats["rest_inside_retry_after"] == 0
    assert stats["rest_418"] == 0


async def test_the_simulator_speaks_the_bullet_handshake() -> None:
    """bullet-public gives a token and endpoint; no token, no socket; `welcome` comes first;
    ping -> pong; an unknown topic is an error; a subscribe is acked, then data flows."""
    config = SimulatorConfig(port=0, market=market())
    async with start_simulator(config) as sim, aiohttp.ClientSession() as http:
        async with http.post(sim.rest_url("kucoin") + "/api/v1/bullet-public") as resp:
            body = await resp.json()
        assert body["code"] == "200000"
        server = body["data"]["instanceServers"][0]
        assert server["endpoint"] == f"{sim.ws_base}/kucoin/ws"
        assert (server["pingInterval"], server["pingTimeout"]) == (18000, 10000)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(server["endpoint"])
        assert refused.value.status == 401
        url = f"{server['endpoint']}?token={body['data']['token']}&connectId=c1"
        async with http.ws_connect(url) as ws:
            assert await ws.receive_json() == {"id": "c1", "type": "welcome"}
            await ws.send_json({"id": "7", "type": "ping"})
            assert await ws.receive_json() == {"id": "7", "type": "pong"}
            await ws.send_json({"id": "8", "type": "subscribe", "topic": "/market/nope:BTC-USDT",
                                "response": True})  # fmt: skip
            error = await ws.receive_json()
            assert (error["id"], error["type"], error["code"]) == ("8", "error", 404)
            await ws.send_json({"id": "9", "type": "subscribe", "response": True,
                                "topic": "/market/ticker:BTC-USDT,ETH-USDT"})  # fmt: skip
            assert await ws.receive_json() == {"id": "9", "type": "ack"}
            frame = await ws.receive_json()
        assert frame["type"] == "message" and frame["subject"] == "trade.ticker"
        assert frame["topic"] in ("/market/ticker:BTC-USDT", "/market/ticker:ETH-USDT")


async def test_every_reconnect_asks_bullet_public_for_a_new_token(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    """Dropped sockets (like an expired token's) reconnect through a new bullet-public answer,
    and the records keep coming."""
    faults = FaultConfig(drop_every=40)
    config = SimulatorConfig(port=0, market=market(), faults=faults)
    settings = settings.model_copy(update={"venues": ["kucoin"], "rest_enabled": False})
    async with running(settings, config, real_redis) as (sim, wired):

        async def reconnected() -> Any:
            stats = sim.stats()["venues"].get("kucoin", {})
            return stats if stats.get("drops", 0) >= 3 else None

        await eventually(reconnected, timeout_s=60)
        before = len(await raw_records(real_redis, wired))
        await eventually(lambda: _more_records(real_redis, wired, before + 20))
        stats = sim.stats()["venues"]["kucoin"]
    bullets = sum(n for path, n in stats["rest_requests"].items() if "bullet-public" in path)
    assert stats["ws_opened"] >= 4
    assert bullets >= stats["ws_opened"]  # one token per connection


async def _more_records(redis: aredis.Redis, settings: Settings, count: int) -> bool:
    return len(await raw_records(redis, settings)) >= count
