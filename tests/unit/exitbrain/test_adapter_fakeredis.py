"""CrossExchangeAdapter on fakeredis: reads, fail-safe alerts and status entries read back."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import fakeredis
import pytest
import redis.asyncio as aredis

from backend.domains.exits.exit_brain_v3.cross_exchange_adapter import CrossExchangeAdapter
from backend.domains.exits.exit_brain_v3.models import ExitParams, VolatilityAdjustments
from microservices.common.clock import iso_utc
from microservices.common.records import ExitAlert, ExitStatus, NormalizedSnapshot
from microservices.common.redis_io import create_redis
from microservices.common.streams import Streams, build_streams
from tests.unit.exitbrain.helpers import T0, snapshot

STREAMS = build_streams("test:")


class FakeClock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
async def redis(server: fakeredis.FakeServer) -> AsyncIterator[aredis.Redis]:
    client = fakeredis.FakeAsyncRedis(server=server, decode_responses=False)
    yield client
    await client.aclose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0 + 2_100)


@pytest.fixture
def adapter(redis: aredis.Redis, clock: FakeClock) -> CrossExchangeAdapter:
    return CrossExchangeAdapter(redis, STREAMS, ExitParams(), clock=clock)


async def add(redis: aredis.Redis, snap: NormalizedSnapshot, streams: Streams = STREAMS) -> None:
    fields: dict[Any, Any] = streams.normalized.schema.encode(snap)
    await redis.xadd(streams.normalized.name, fields)


async def alerts(redis: aredis.Redis) -> list[ExitAlert]:
    rows: Any = await redis.xrange(STREAMS.alerts.name)
    return [STREAMS.alerts.schema.decode(fields) for _, fields in rows]


async def statuses(redis: aredis.Redis) -> list[ExitStatus]:
    rows: Any = await redis.xrange(STREAMS.status.name)
    return [STREAMS.status.schema.decode(fields) for _, fields in rows]


def brief(items: list[ExitAlert]) -> list[tuple[str, str, str, int]]:
    return [(a.symbol, a.type, a.reason, a.fail_count) for a in items]


async def test_fresh_read_publishes_seed_status(
    adapter: CrossExchangeAdapter, redis: aredis.Redis
) -> None:
    seed = snapshot(volatility_factor=1.8, exchange_divergence=0.042, funding_delta=0.0012)
    await add(redis, seed)
    adj = await adapter.refresh("BTCUSDT")
    assert adj.atr_multiplier == pytest.approx(2.08)
    [status] = await statuses(redis)
    assert status == ExitStatus(
        symbol="BTCUSDT",
        ts_ms=T0 + 2_000,  # the wire keeps seconds (seed format)
        cross_exchange_active=True,
        data_age_seconds=2.1,
        volatility_factor=1.8,
        exchange_divergence=0.042,
        funding_delta=0.0012,
        atr_multiplier=2.08,
        tp_multiplier=1.00096,
        sl_multiplier=1.0168,
        use_trailing=True,
        reasoning="Vol:1.80 Div:0.042 Fund:0.0012 | ATR×2.08 TP×1.00 SL×1.02",
        total_reads=1,
        fail_count=0,
    )
    newest: Any = await redis.xrevrange(STREAMS.status.name, count=1)
    raw = newest[0][1]
    assert raw[b"timestamp"] == b"2023-12-21T03:15:44Z"
    assert raw[b"cross_exchange_active"] == b"true"
    # 0.042 > 0.02: the one alert of this read is the divergence crossing
    assert brief(await alerts(redis)) == [
        ("BTCUSDT", "PRICE_DIVERGENCE", "Exchange divergence 0.042 above 0.020 for BTCUSDT", 0)
    ]
    assert adapter.stats() == {
        "enabled": True,
        "use_local_mode": False,
        "total_reads": 1,
        "fail_count": 0,
        "last_update": "2023-12-21T03:15:44Z",
    }


async def test_stale_fallback_repeats_nothing_and_recovers(
    adapter: CrossExchangeAdapter, redis: aredis.Redis, clock: FakeClock
) -> None:
    await add(redis, snapshot())
    await adapter.refresh("BTCUSDT")
    for now in (T0 + 67_300, T0 + 72_300, T0 + 77_300, T0 + 82_300):
        clock.now = now
        adj = await adapter.refresh("BTCUSDT")
        assert (adj.atr_multiplier, adj.tp_multiplier, adj.sl_multiplier) == (1.0, 1.0, 1.0)
    assert brief(await alerts(redis)) == [
        ("BTCUSDT", "FALLBACK_TO_LOCAL", "Data stale (67.3s)", 1),
        ("BTCUSDT", "DATA_STALE", "Data stale (67.3s)", 1),
    ]
    first_stale = (await statuses(redis))[1]
    assert first_stale.cross_exchange_active is False
    assert first_stale.data_age_seconds == 67.3
    assert first_stale.reasoning == "Local mode: Data stale (67.3s) | ATR×1.00 TP×1.00 SL×1.00"
    assert (first_stale.total_reads, first_stale.fail_count) == (2, 1)
    assert (first_stale.atr_multiplier, first_stale.use_trailing) == (1.0, True)
    assert adapter.stats() == {
        "enabled": True,
        "use_local_mode": True,
        "total_reads": 5,
        "fail_count": 4,
        "last_update": iso_utc(T0 + 2_100),
    }
    assert adapter.symbol_stats()["BTCUSDT"]["latched"] is True

    await add(redis, snapshot(ts_ms=T0 + 90_000))
    clock.now = T0 + 92_100
    adj = await adapter.refresh("BTCUSDT")
    assert adj.local_mode is False
    assert brief(await alerts(redis))[2:] == [("BTCUSDT", "RECOVERED", "Fresh data (2.1s)", 0)]
    last = (await statuses(redis))[-1]
    assert (last.cross_exchange_active, last.fail_count, last.total_reads) == (True, 0, 6)
    assert adapter.stats()["use_local_mode"] is False
    assert adapter.stats()["fail_count"] == 0
    assert adapter.stats()["last_update"] == iso_utc(T0 + 92_100)
    assert len(await statuses(redis)) == 6  # every calculation publishes a status entry


async def test_newest_entry_of_the_symbol_among_interleaved_symbols(
    redis: aredis.Redis, clock: FakeClock
) -> None:
    streams = build_streams("test:", {"exchange.normalized": 2_000})
    adapter = CrossExchangeAdapter(redis, streams, clock=clock)
    await add(redis, snapshot("BTCUSDT", T0 - 5_000, volatility_factor=1.0), streams)
    await add(redis, snapshot("BTCUSDT", T0, volatility_factor=2.0), streams)
    for i in range(700):  # pushes BTCUSDT past the first two pages (50 + 500)
        await add(redis, snapshot("ETHUSDT" if i % 2 else "SOLUSDT", T0 + 1_000), streams)
    state = await adapter.get_global_volatility_state("BTCUSDT")
    assert (state.outcome, state.volatility_factor, state.ts_ms) == ("ok", 2.0, T0)
    eth = await adapter.get_global_volatility_state("ETHUSDT")
    assert (eth.outcome, eth.ts_ms, eth.data_age_seconds) == ("ok", T0 + 1_000, 1.1)


async def test_lookback_is_bounded_by_maxlen(redis: aredis.Redis, clock: FakeClock) -> None:
    streams = build_streams("test:", {"exchange.normalized": 60})
    adapter = CrossExchangeAdapter(redis, streams, clock=clock)
    await add(redis, snapshot("BTCUSDT"), streams)
    for _ in range(60):
        await add(redis, snapshot("ETHUSDT"), streams)
    state = await adapter.get_global_volatility_state("BTCUSDT")
    assert state.outcome == "missing"


async def test_missing_symbol_and_missing_stream(
    adapter: CrossExchangeAdapter, redis: aredis.Redis
) -> None:
    assert (await adapter.get_global_volatility_state("SOLUSDT")).outcome == "missing"  # no stream
    await add(redis, snapshot("ETHUSDT"))
    adj = await adapter.refresh("SOLUSDT")
    assert adj.local_mode is True
    assert adj.reasoning == (
        "Local mode: No cross-exchange data for SOLUSDT | ATR×1.00 TP×1.00 SL×1.00"
    )
    assert brief(await alerts(redis)) == [
        ("SOLUSDT", "FALLBACK_TO_LOCAL", "No cross-exchange data for SOLUSDT", 1)
    ]
    [status] = await statuses(redis)
    assert (status.symbol, status.data_age_seconds, status.fail_count, status.total_reads) == (
        "SOLUSDT",
        -1.0,
        2,
        2,
    )


async def test_per_symbol_failsafe_does_not_flap(
    adapter: CrossExchangeAdapter, redis: aredis.Redis, clock: FakeClock
) -> None:
    await add(redis, snapshot("BTCUSDT"))
    for _ in range(3):
        await adapter.refresh("BTCUSDT")
        await adapter.refresh("ETHUSDT")
    assert [a.type for a in await alerts(redis)] == ["FALLBACK_TO_LOCAL"]
    assert adapter.symbol_stats()["BTCUSDT"]["fail_count"] == 0
    assert adapter.symbol_stats()["ETHUSDT"]["fail_count"] == 3
    assert adapter.stats() == {
        "enabled": True,
        "use_local_mode": True,
        "total_reads": 6,
        "fail_count": 3,
        "last_update": iso_utc(T0 + 2_100),
    }


async def test_decode_error_is_a_read_error(
    adapter: CrossExchangeAdapter, redis: aredis.Redis
) -> None:
    await add(redis, snapshot("BTCUSDT"))
    fields: dict[Any, Any] = STREAMS.normalized.schema.encode(snapshot("BTCUSDT"))
    fields["avg_price"] = "abc"
    await redis.xadd(STREAMS.normalized.name, fields)  # the newest BTCUSDT entry is broken
    for _ in range(3):
        adj = await adapter.refresh("BTCUSDT")
        assert adj.local_mode is True
    [alert] = await alerts(redis)
    assert alert.type == "FALLBACK_TO_LOCAL"
    assert alert.reason == "Read error: SchemaError: field 'avg_price': not a number: 'abc'"
    assert [s.fail_count for s in await statuses(redis)] == [1, 2, 3]
    assert adapter.stats()["use_local_mode"] is True


async def test_redis_down_goes_local_and_alerts_once_it_is_back(
    adapter: CrossExchangeAdapter, redis: aredis.Redis, server: fakeredis.FakeServer
) -> None:
    await add(redis, snapshot("BTCUSDT"))
    server.connected = False
    for _ in range(3):
        adj = await adapter.refresh("BTCUSDT")  # must not raise
        assert adj.local_mode is True
        assert adj.reasoning.startswith("Local mode: Read error: ConnectionError")
    assert adapter.stats()["fail_count"] == 3
    assert adapter.stats()["use_local_mode"] is True
    server.connected = True
    assert await alerts(redis) == []  # nothing could be written while Redis was down
    adj = await adapter.refresh("BTCUSDT")
    assert adj.local_mode is False
    fallback, recovered = await alerts(redis)
    assert (fallback.type, fallback.fail_count) == ("FALLBACK_TO_LOCAL", 1)
    assert fallback.reason.startswith("Read error: ConnectionError: ")
    assert brief([recovered]) == [("BTCUSDT", "RECOVERED", "Fresh data (2.1s)", 0)]
    assert len(await statuses(redis)) == 1
    assert adapter.stats()["fail_count"] == 0


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_real_client_on_a_closed_port(clock: FakeClock) -> None:
    client = create_redis(f"redis://127.0.0.1:{closed_port()}/0", socket_timeout_s=1.0)
    try:
        adapter = CrossExchangeAdapter(client, STREAMS, clock=clock)
        adj = await adapter.refresh("BTCUSDT")
        assert adj.local_mode is True
        assert adj.reasoning.startswith("Local mode: Read error: ConnectionError")
        assert adapter.stats()["total_reads"] == 1
    finally:
        await client.aclose()


async def test_disabled_adapter_never_touches_redis(
    redis: aredis.Redis, clock: FakeClock, server: fakeredis.FakeServer
) -> None:
    await add(redis, snapshot("BTCUSDT"))
    adapter = CrossExchangeAdapter(redis, STREAMS, enabled=False, clock=clock)
    server.connected = False  # any Redis call would fail or show up below
    adj = await adapter.refresh("BTCUSDT")
    state = await adapter.get_global_volatility_state("BTCUSDT")
    server.connected = True
    assert state.outcome == "disabled"
    assert adj.local_mode is True
    assert (adj.atr_multiplier, adj.tp_multiplier, adj.sl_multiplier, adj.use_trailing) == (
        1.0,
        1.0,
        1.0,
        True,
    )
    assert adj.reasoning == "Local mode: Cross-exchange disabled | ATR×1.00 TP×1.00 SL×1.00"
    assert sorted(await redis.keys("*")) == [STREAMS.normalized.name.encode()]
    assert adapter.stats() == {
        "enabled": False,
        "use_local_mode": True,
        "total_reads": 0,
        "fail_count": 0,
        "last_update": None,
    }


def test_stats_before_any_read(adapter: CrossExchangeAdapter) -> None:
    assert adapter.stats() == {
        "enabled": True,
        "use_local_mode": False,
        "total_reads": 0,
        "fail_count": 0,
        "last_update": None,
    }


async def test_status_and_alert_streams_are_trimmed(redis: aredis.Redis, clock: FakeClock) -> None:
    streams = build_streams("test:", {"exitbrain.status": 10})
    adapter = CrossExchangeAdapter(redis, streams, clock=clock)
    await add(redis, snapshot("BTCUSDT"), streams)
    for _ in range(300):
        await adapter.refresh("BTCUSDT")
    assert await redis.xlen(streams.status.name) < 300  # MAXLEN ~ trims (approximately)


async def test_alerts_kept_while_down_are_bounded(
    adapter: CrossExchangeAdapter, redis: aredis.Redis, server: fakeredis.FakeServer
) -> None:
    server.connected = False
    for i in range(105):  # one FALLBACK_TO_LOCAL per symbol, none can be written
        await adapter.refresh(f"S{i:03d}USDT")
    server.connected = True
    assert adapter.alerts_dropped == 5
    await adapter.refresh("S000USDT")  # still failing (no data): flushes the kept alerts
    kept = await alerts(redis)
    assert len(kept) == 100
    assert (kept[0].symbol, kept[-1].symbol) == ("S005USDT", "S104USDT")


async def test_concurrent_refreshes_publish_each_alert_once(
    adapter: CrossExchangeAdapter, redis: aredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ExitBrain loop and API requests refresh concurrently; their alert flushes
    interleave at every XADD and must neither repeat an alert nor pop one twice."""
    xadd = redis.xadd

    async def yielding_xadd(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0)  # let the other refresh run while this write is in flight
        return await xadd(*args, **kwargs)

    monkeypatch.setattr(redis, "xadd", yielding_xadd)
    symbols = [f"S{i}USDT" for i in range(6)]
    await asyncio.gather(*(adapter.refresh(symbol) for symbol in symbols))
    published = await alerts(redis)
    assert sorted(a.symbol for a in published) == symbols
    assert {a.type for a in published} == {"FALLBACK_TO_LOCAL"}
    assert len(await statuses(redis)) == 6


async def add_broken(redis: aredis.Redis, symbol: str = "BTCUSDT") -> None:
    """A newest entry for `symbol` that fails to decode: each read of it is a read error."""
    fields: dict[Any, Any] = STREAMS.normalized.schema.encode(snapshot(symbol))
    fields["avg_price"] = "abc"
    await redis.xadd(STREAMS.normalized.name, fields)


def multipliers(item: ExitStatus | VolatilityAdjustments) -> tuple[float, float, float]:
    return (item.atr_multiplier, item.tp_multiplier, item.sl_multiplier)


async def test_three_failure_latch_keeps_last_good_then_falls_back_once_and_recovers(
    adapter: CrossExchangeAdapter, redis: aredis.Redis, clock: FakeClock
) -> None:
    # vf 1.8, divergence 0.01, funding +0.015 %/8h -> ATR×2.08, TP×1.012, SL×1.004
    await add(redis, snapshot(volatility_factor=1.8, funding_delta=0.015))
    good = await adapter.refresh("BTCUSDT")  # read at T0 + 2.1 s
    assert multipliers(good) == pytest.approx((2.08, 1.012, 1.004))
    await add_broken(redis)
    error = "Read error: SchemaError: field 'avg_price': not a number: 'abc'"
    for n, now in ((1, T0 + 7_100), (2, T0 + 12_100)):
        clock.now = now
        held = await adapter.refresh("BTCUSDT")
        assert held.local_mode is False
        assert multipliers(held) == multipliers(good)
        assert adapter.symbol_stats()["BTCUSDT"]["fail_count"] == n
    assert await alerts(redis) == []
    first, second = (await statuses(redis))[1:]
    assert (first.cross_exchange_active, first.fail_count, first.data_age_seconds) == (True, 1, 7.1)
    assert multipliers(first) == multipliers(good)
    assert first.funding_delta == 0.015
    assert first.reasoning.endswith(f"| Kept last good data (7.1s) after 1 failure: {error}")
    assert (second.cross_exchange_active, second.fail_count) == (True, 2)
    assert adapter.stats()["use_local_mode"] is False

    clock.now = T0 + 17_100
    local = await adapter.refresh("BTCUSDT")
    assert local.local_mode is True
    assert multipliers(local) == (1.0, 1.0, 1.0)
    reason = f"3 consecutive failures, last: {error}"
    assert brief(await alerts(redis)) == [("BTCUSDT", "FALLBACK_TO_LOCAL", reason, 3)]
    third = (await statuses(redis))[-1]
    assert (third.cross_exchange_active, third.fail_count) == (False, 3)
    assert third.reasoning == f"Local mode: {reason} | ATR×1.00 TP×1.00 SL×1.00"
    clock.now = T0 + 22_100
    await adapter.refresh("BTCUSDT")
    assert len(await alerts(redis)) == 1  # once per transition

    await add(redis, snapshot(ts_ms=T0 + 25_000, funding_delta=-0.04))
    clock.now = T0 + 27_100
    back = await adapter.refresh("BTCUSDT")
    assert back.local_mode is False
    assert back.tp_multiplier == pytest.approx(0.968)  # shorts pay: 1 - 0.8*0.04
    clock.now = T0 + 28_100
    await adapter.refresh("BTCUSDT")
    assert brief(await alerts(redis))[1:] == [("BTCUSDT", "RECOVERED", "Fresh data (2.1s)", 0)]
    assert adapter.symbol_stats()["BTCUSDT"]["fail_count"] == 0
    assert [s.fail_count for s in await statuses(redis)] == [0, 1, 2, 3, 4, 0, 0]


async def test_redis_down_briefly_keeps_the_last_good_multipliers(
    adapter: CrossExchangeAdapter, redis: aredis.Redis, server: fakeredis.FakeServer
) -> None:
    await add(redis, snapshot(volatility_factor=1.8, funding_delta=0.015))
    good = await adapter.refresh("BTCUSDT")
    server.connected = False
    for _ in range(2):
        held = await adapter.refresh("BTCUSDT")  # must not raise
        assert held.local_mode is False
        assert multipliers(held) == multipliers(good)
    local = await adapter.refresh("BTCUSDT")
    assert local.local_mode is True
    server.connected = True
    await adapter.refresh("BTCUSDT")
    assert [a.type for a in await alerts(redis)] == ["FALLBACK_TO_LOCAL", "RECOVERED"]


async def test_large_funding_delta_is_clamped_in_the_status_entry(
    adapter: CrossExchangeAdapter, redis: aredis.Redis
) -> None:
    await add(redis, snapshot(funding_delta=0.9))  # 1 + 0.8*0.9 = 1.72 -> 1.5
    adj = await adapter.refresh("BTCUSDT")
    assert adj.tp_multiplier == 1.5
    [status] = await statuses(redis)
    assert (status.funding_delta, status.tp_multiplier) == (0.9, 1.5)
    assert status.reasoning == (
        "Vol:1.00 Div:0.010 Fund:0.9000 | ATR×1.60 TP×1.50 SL×1.00 | TP×1.720 clamped to max 1.50"
    )
