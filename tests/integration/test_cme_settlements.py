"""CME acceptance: settlements served by the CME simulator over HTTP, read by the web source,
published to a real Redis, folded by the aggregator into a basis worked by hand; the roll it
raises on `alerts`; a holiday; the reference from REST 1m klines; `cme import` of the repo's
sample CSV."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
import redis.asyncio as aredis
from aiohttp import web
from aiohttp.test_utils import TestServer

from microservices.ai_engine.cross_exchange_aggregator import AggregatorParams, CrossExchangeState
from microservices.cli import main
from microservices.common.derived_schemas import NORMALIZED
from microservices.common.records import Settlement, Ticker
from microservices.common.redis_server import LocalRedis
from microservices.common.settings import Settings
from microservices.common.streams import build_streams
from microservices.data_collector.exchanges.cme.contracts import settlement_ms
from microservices.data_collector.exchanges.cme.runtime import redis_publisher, reference_of
from microservices.data_collector.exchanges.cme.service import SettlementFeed
from microservices.data_collector.exchanges.cme.settlements import CmeRules
from microservices.data_collector.exchanges.cme.simulator import SettlementSim, app
from microservices.data_collector.exchanges.cme.source import WebSource
from tests.fixture_paths import local_fixture

HOLIDAY = date(2026, 12, 8)

SAMPLE = local_fixture("exchanges/cme/settlements_sample.csv")


@contextlib.asynccontextmanager
async def serving(application: web.Application) -> AsyncIterator[str]:
    server = TestServer(application, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


class SimSpot:
    """The simulator's spot path as the reference (the REST reference is tested below)."""

    def __init__(self, sim: SettlementSim) -> None:
        self.sim = sim

    async def price_at(self, group: str, ts_ms: int) -> float | None:
        return self.sim.spot_at(group[:3], ts_ms)


async def entries(redis: aredis.Redis, stream: Any) -> list[Any]:
    rows: Any = await redis.xrange(stream.name)
    return [stream.schema.decode(fields) for _, fields in rows]


async def test_basis_and_roll_from_simulator_settlements(
    real_redis: aredis.Redis, redis_server: LocalRedis, settings_factory: Callable[..., Settings]
) -> None:
    settings = settings_factory(redis_url=redis_server.url)
    sim = SettlementSim(holidays=frozenset({HOLIDAY}))
    days = [date(2026, 12, 1) + timedelta(days=n) for n in range(15)]
    async with serving(app(sim)) as base, aiohttp.ClientSession() as session:
        source = WebSource(session, base + "/cme", sim.product_ids, ["BTC"])
        feed = SettlementFeed(
            source, CmeRules(), SimSpot(sim), redis_publisher(real_redis, settings)
        )
        outcomes = [await feed.read_day(d, 1_797_400_000_000) for d in days if d.weekday() < 5]
    assert [o.trade_date for o in outcomes if o.outcome == "holiday"] == [HOLIDAY]
    assert feed.stats.rejected == {"holiday": 1}

    streams = settings.streams()
    records = await entries(real_redis, streams.raw)
    assert len(records) == 3 * 10 and all(isinstance(r, Settlement) and r.delayed for r in records)
    # open interest by hand (simulator): Dec 26 has 20000 x days_left / 20, Jan 27 has
    # 20000 x (1 - (days_left - 20) / 60). 11 Dec: 13000 vs 10333; 14 Dec: 10000 vs 11333
    alerts = await entries(real_redis, streams.market_alerts)
    assert [(a.type, a.data["trade_date"], a.data["from"], a.data["to"], a.data["reason"])
            for a in alerts] == [("CONTRACT_ROLL", "2026-12-14", "BTC-CME-2026Z",
                                  "BTC-CME-2027F", "open_interest")]  # fmt: skip
    assert (alerts[0].data["from_open_interest"], alerts[0].data["to_open_interest"]) == (
        10000.0,
        11333.0,
    )

    state = CrossExchangeState(AggregatorParams(min_exchanges=1))
    settle_ms = settlement_ms(date(2026, 12, 15))
    now = settle_ms + 60_000
    state.update(Ticker("binance", "spot", "BTCUSDT", "BTCUSDT", "BTCUSDT", "USDT", now, now,
                        86_800.0, 1.0, 86_801.0, 1.0))  # fmt: skip
    for record in records:
        state.update(record)
    snap = state.snapshot("BTCUSDT", now + 1_000)
    assert snap is not None and snap.basis is not None
    assert list(snap.venues) == ["binance"] and snap.excluded == {}
    assert list(state.venue_status(now + 1_000)["BTCUSDT"]) == ["binance"]  # never stale
    basis = snap.basis
    # by hand: F = 87,680 (Jan 27 on 15 Dec: 86,830.01 x (1 + 0.08 x days / 365) on 5s),
    # S = 86,830.01, expiry Fri 29 Jan 2027 16:00 UTC, settlement 15 Dec 21:00 UTC
    days_left = 44 + 19 / 24
    assert (basis.contract, basis.trade_date) == ("BTC-CME-2027F", "2026-12-15")
    assert (basis.settlement, basis.reference) == (87_680.0, 86_830.01)
    assert basis.basis_usd == pytest.approx(849.99)
    assert basis.days_to_expiry == pytest.approx(days_left)
    assert basis.basis_pct == pytest.approx(849.99 / 86_830.01 * 100)
    assert basis.basis_pct_annualised == pytest.approx(849.99 / 86_830.01 * 100 * 365 / days_left)
    assert basis.basis_pct_annualised == pytest.approx(7.977, abs=5e-4)
    decoded = NORMALIZED.decode(NORMALIZED.encode(snap)).basis
    assert decoded is not None and decoded.basis_usd == pytest.approx(849.99)


def binance_klines(close: float) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        start = int(request.query["startTime"])
        row = [start, str(close), str(close + 1), str(close - 1), str(close), "3", start + 59_999,
               "0", 1, "0", "0", "0"]  # fmt: skip
        return web.json_response([row])

    return handler


async def test_reference_is_the_median_of_the_venues_rest_1m_closes(
    settings_factory: Callable[..., Settings],
) -> None:
    api = web.Application()
    api.add_routes([web.get("/spot/api/v3/klines", binance_klines(90_000.0)),
                    web.get("/fut/fapi/v1/klines", binance_klines(90_100.0))])  # fmt: skip
    async with serving(api) as base, aiohttp.ClientSession() as session:
        settings = settings_factory(
            binance_rest_url=base + "/spot", binance_futures_rest_url=base + "/fut",
            cme_reference_venues="binance,binance_futures",
        )  # fmt: skip
        reference = reference_of(settings, session)
        assert await reference.price_at("BTCUSDT", 1_797_368_400_000) == 90_050.0
        assert await reference.price_at("SOLUSDT", 1_797_368_400_000) is None  # not followed


def test_cme_import_puts_the_sample_csv_on_exchange_raw(
    redis_server: LocalRedis, stream_prefix: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("STREAM_PREFIX", stream_prefix)
    assert main(["--env-file", "/nonexistent", "cme", "import", str(SAMPLE), "--no-reference"]) == 0
    assert capsys.readouterr().out.strip() == (
        "6 trade dates, 20 records, 1 rolls; rejected: expired 1, holiday 1, malformed 2, "
        "unknown_contract 1"
    )
    streams = build_streams(stream_prefix)
    client = redis.Redis.from_url(redis_server.url)
    try:
        raw: Any = client.xrange(streams.raw.name)
        rolls: Any = client.xrange(streams.market_alerts.name)
        records = [streams.raw.schema.decode(fields) for _, fields in raw]
        alerts = [streams.market_alerts.schema.decode(fields) for _, fields in rolls]
    finally:
        client.close()
    assert len(records) == 20
    first = records[0]
    assert (first.symbol, first.venue_symbol, first.group, first.settlement, first.open_interest,
            first.contract_size, first.front) == ("BTC-CME-2026Z", "BTCZ6", "BTCUSDT", 91250.0,
                                                   21000.0, 5.0, True)  # fmt: skip
    assert [a.data["to"] for a in alerts] == ["BTC-CME-2027F"]


async def test_simulator_faults_over_http_are_counted() -> None:
    sim = SettlementSim(malformed=True)
    day = date(2026, 12, 1)
    async with serving(app(sim)) as base, aiohttp.ClientSession() as session:
        source = WebSource(session, base + "/cme", sim.product_ids, ["ETH"])
        published: list[Settlement] = []

        async def publish(records: list[Settlement], alerts: list[Any]) -> None:
            published.extend(records)

        feed = SettlementFeed(source, CmeRules(), None, publish)
        assert (await feed.read_day(day, 1)).outcome == "ok"
        # every simulated day: one unknown month (ABC 26) and one row without settlement
        assert feed.stats.rejected == {"unknown_contract": 1, "malformed": 1}
        assert [r.symbol for r in published] == ["ETH-CME-2026Z", "ETH-CME-2027F", "ETH-CME-2027G"]
        assert [r.settlement for r in published] == [r.settlement for r in sim.day("ETH", day)]
        unknown = WebSource(session, base + "/cme", {"ETH": 1}, ["ETH"])
        failing = SettlementFeed(unknown, CmeRules(), None, publish)
        assert (await failing.read_day(day, 1)).outcome == "failed"  # HTTP 404
        async with session.get(base + "/cme/settle/20261201.csv") as response:
            text = await response.text()
        lines = text.splitlines()
        assert lines[0] == "trade_date,contract,settlement,volume,open_interest"
        assert lines[1].startswith("2026-12-01,BTC-CME-2026Z,") and len(lines) == 1 + 4 * 3
        async with session.get(base + "/cme/settle/20261205.csv") as response:
            assert (await response.text()).splitlines()[1:] == []  # a Saturday: no settlement


def test_cme_import_of_a_bad_file_exits_2_naming_it(
    redis_server: LocalRedis, stream_prefix: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:  # fmt: skip
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("STREAM_PREFIX", stream_prefix)
    missing = tmp_path / "missing.csv"
    assert main(["--env-file", "/nonexistent", "cme", "import", str(missing)]) == 2
    assert f"cannot read {missing}" in capsys.readouterr().err
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("date,price\n2026-12-01,1\n")
    assert main(["--env-file", "/nonexistent", "cme", "import", str(wrong)]) == 2
    assert "unknown CSV header" in capsys.readouterr().err


async def test_the_exchange_simulator_serves_cme_and_the_demo_points_cme_at_it(
    settings_factory: Callable[..., Settings],
) -> None:
    from microservices.exchange_simulator.config import SimulatorConfig
    from microservices.exchange_simulator.server import start_simulator
    from microservices.runner import simulator_settings

    async with start_simulator(SimulatorConfig(host="127.0.0.1", port=0)) as sim:
        demo = simulator_settings(settings_factory(), sim.base_url, sim.ws_base)
        assert demo.cme_web_url == f"{sim.base_url}/cme"
        async with aiohttp.ClientSession() as session:
            source = WebSource(session, demo.cme_web_url, demo.cme_product_ids, ["MBT"])
            feed = SettlementFeed(source, CmeRules(), None, _ignore)
            day = date(2026, 12, 1)
            assert (await feed.read_day(day, 1)).records == 3
            expected = SettlementSim().day("MBT", day)
            assert feed.book.tracker.fronts["MBT"] == expected[0].contract


async def _ignore(records: list[Settlement], alerts: list[Any]) -> None:
    return None
