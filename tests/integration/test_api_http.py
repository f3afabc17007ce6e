"""The engine's HTTP API over real HTTP (uvicorn on a free port) against a real redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from microservices.ai_engine.engine import Engine
from microservices.common.clock import now_ms
from microservices.common.producer import StreamProducer
from microservices.common.redis_io import create_redis
from microservices.common.redis_server import free_port
from microservices.common.settings import Settings
from microservices.common.streams import collector_key
from tests.integration.test_pipeline import raw_records

pytestmark = pytest.mark.integration


async def wait_for(predicate: Any, timeout_s: float = 20.0) -> Any:
    async def poll() -> Any:
        while True:
            value = await predicate()
            if value:
                return value
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(poll(), timeout=timeout_s)


@pytest.fixture
async def engine(redis_server: Any, settings_factory: Any) -> AsyncIterator[tuple[Settings, str]]:
    settings: Settings = settings_factory(
        redis_url=redis_server.url, api_port=free_port(), exitbrain_interval_s=0.2,
        venues="binance_futures,bybit,coinbase",
    )  # fmt: skip
    redis = create_redis(settings.redis_url or "")
    stop = asyncio.Event()
    task = asyncio.create_task(Engine(settings, redis).run(stop))
    base = f"http://127.0.0.1:{settings.api_port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        await wait_for(lambda: _answers(client))
    producer = StreamProducer(redis)
    for record in raw_records(now_ms()):
        producer.publish(settings.streams().raw, record)
    await producer.flush()
    yield settings, base
    stop.set()
    await asyncio.wait_for(task, timeout=15)
    await redis.aclose()


async def _answers(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/health")).status_code in (200, 503)
    except httpx.TransportError:
        return False


async def test_endpoints_over_http(engine: tuple[Settings, str]) -> None:
    settings, base = engine
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:

        async def intelligent() -> Any:
            body = (await client.get("/health")).json()
            return body if body["metrics"]["cross_exchange_intelligence"] else None

        health = await wait_for(intelligent)
        assert health["status"] == "degraded"  # no collector running: venues unknown
        assert set(health["venues"]) == {"binance_futures", "bybit", "coinbase"}
        assert health["venues"]["bybit"]["state"] == "unknown"
        stats = health["cross_exchange_exitbrain_integration"]["adapter_stats"]
        assert set(stats) == {
            "enabled",
            "use_local_mode",
            "total_reads",
            "fail_count",
            "last_update",
        }
        assert health["streams"][settings.streams().raw.name]["length"] == 15
        assert "aggregator" in health["consumer_groups"][settings.streams().raw.name]

        body = (await client.get("/api/v1/cross-exchange/btcusdt")).json()
        state = body["snapshot"]
        assert state["avg_price"] == 101.0 and state["num_exchanges"] == 3
        assert state["venues"]["coinbase"]["price"] == 102.0
        assert body["timestamp"].endswith("Z")

        missing = await client.get("/api/v1/cross-exchange/DOGEUSDT")
        assert missing.status_code == 404 and "followed symbols" in missing.json()["detail"]
        assert (await client.get("/api/v1/cross-exchange/bad-symbol!")).status_code in (404, 422)

        features = await wait_for(lambda: _ok_json(client, "/api/v1/features/BTCUSDT?lookback=60"))
        assert features["latest"]["avg_price"] == 101.0
        assert len(features["history"]) >= 1
        assert (await client.get("/api/v1/features/BTCUSDT?lookback=999999")).status_code == 422

        plan = await client.post("/api/v1/exit-plan", json={
            "symbol": "BTCUSDT", "side": "long", "entry_price": 100.0,
            "base_tp_pct": 1.0, "base_sl_pct": 0.5, "base_atr_pct": 1.0,
        })  # fmt: skip
        assert plan.status_code == 200, plan.text
        body = plan.json()
        assert body["local_mode"] is False
        assert body["tp_pct"] == pytest.approx(1.0 * 1.008)  # funding_delta +0.01 %/8h
        assert body["sl_pct"] == pytest.approx(0.5 * (1 + 0.4 * 2 / 101))
        assert body["tp_price"] == pytest.approx(100.0 * (1 + body["tp_pct"] / 100))
        assert body["sl_price"] == pytest.approx(100.0 * (1 - body["sl_pct"] / 100))

        loose = await client.post("/api/v1/exit-plan", json={
            "symbol": "BTCUSDT", "side": "long", "entry_price": 100.0, "current_stop": 99.9})  # fmt: skip
        assert loose.json()["sl_price"] == pytest.approx(99.9) and loose.json()["stop_kept"] is True

        bad = await client.post(
            "/api/v1/exit-plan", json={"symbol": "BTCUSDT", "side": "up", "entry_price": -1}
        )
        assert bad.status_code == 422

        status = (await client.get("/api/v1/exitbrain/status")).json()
        assert status["adapter_stats"]["total_reads"] >= 1
        assert status["latest_status"]["symbol"] in settings.symbols

        exposition = (await client.get("/metrics")).text
        assert 'ce_normalized_emitted_total{symbol="BTCUSDT"}' in exposition
        assert "ce_consumer_lag" in exposition

        schema = (await client.get("/openapi.json")).json()
        assert {
            "/health",
            "/metrics",
            "/api/v1/exit-plan",
            "/api/v1/cross-exchange/{symbol}",
            "/api/v1/orderbook/{symbol}",
            "/api/v1/orderbook/{symbol}/consolidated",
            "/api/v1/orderbook/{symbol}/cost",
        } <= set(schema["paths"])
        no_book = await client.get("/api/v1/orderbook/BTCUSDT/cost?side=buy&notional=100000")
        assert no_book.status_code == 404  # no collector: no full books


async def test_request_bodies_are_bounded(engine: tuple[Settings, str]) -> None:
    settings, base = engine
    limit = settings.api_max_body_bytes
    position = b'{"symbol": "BTCUSDT", "side": "long", "entry_price": 100.0}'
    padded = position[:-1] + b', "pad": "' + b"x" * limit + b'"}'

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked transfer
        for start in range(0, len(padded), 4096):
            yield padded[start : start + 4096]

    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        declared = await client.post("/api/v1/exit-plan", content=padded, headers=headers)
        assert declared.status_code == 413
        assert declared.text == f"request body larger than {limit} bytes"
        streamed = await client.post("/api/v1/exit-plan", content=chunks(), headers=headers)
        assert streamed.status_code == 413
        assert streamed.json() == {"detail": f"request body larger than {limit} bytes"}
        small = await client.post("/api/v1/exit-plan", content=position, headers=headers)
        assert small.status_code == 200
        assert small.json()["symbol"] == "BTCUSDT"
        exposition = (await client.get("/metrics")).text
        assert 'ce_api_requests_refused_total{reason="body_too_large"} 2.0' in exposition


async def _ok_json(client: httpx.AsyncClient, path: str) -> Any:
    response = await client.get(path)
    return response.json() if response.status_code == 200 else None


async def test_cold_start_raises_no_fallback_alert(engine: tuple[Settings, str]) -> None:
    """The loop waits for the first fresh snapshot (EXITBRAIN_WARMUP_S) before its first read,
    so a start with data on its way publishes statuses but no FALLBACK_TO_LOCAL/RECOVERED."""
    settings, _ = engine
    streams = settings.streams()
    redis = create_redis(settings.redis_url or "")
    try:

        async def every_symbol_has_a_status() -> bool:
            rows: Any = await redis.xrange(streams.status.name)
            found = {streams.status.schema.decode(f).symbol for _, f in rows}
            return found >= set(settings.symbols)

        await wait_for(every_symbol_has_a_status)
        assert await redis.xlen(streams.alerts.name) == 0
        [(_, newest)] = await redis.xrevrange(streams.status.name, count=1)
        assert streams.status.schema.decode(newest).cross_exchange_active is True
    finally:
        await redis.aclose()


async def test_without_data_the_fallback_comes_after_the_warmup(
    redis_server: Any, settings_factory: Any
) -> None:
    settings: Settings = settings_factory(
        redis_url=redis_server.url, api_port=free_port(), exitbrain_interval_s=0.2,
        exitbrain_warmup_s=0.3,
    )  # fmt: skip
    streams = settings.streams()
    redis = create_redis(settings.redis_url or "")
    stop = asyncio.Event()
    task = asyncio.create_task(Engine(settings, redis).run(stop, serve_http=False))
    try:

        async def alerts() -> list[Any]:
            rows: Any = await redis.xrange(streams.alerts.name)
            decoded = [streams.alerts.schema.decode(f) for _, f in rows]
            return decoded if len(decoded) >= len(settings.symbols) else []

        found = await wait_for(alerts)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)
        await redis.aclose()
    assert sorted((a.symbol, a.type) for a in found) == [
        (symbol, "FALLBACK_TO_LOCAL") for symbol in sorted(settings.symbols)
    ]
    assert {a.reason for a in found} == {
        f"No cross-exchange data for {s}" for s in settings.symbols
    }


async def test_health_is_503_when_redis_is_unreachable(settings_factory: Any) -> None:
    settings: Settings = settings_factory(
        redis_url=f"redis://127.0.0.1:{free_port()}/0", api_port=free_port()
    )
    redis = create_redis(settings.redis_url or "", socket_timeout_s=1.0)
    stop = asyncio.Event()
    engine = Engine(settings, redis)
    task = asyncio.create_task(engine._serve(stop))
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{settings.api_port}", timeout=10
        ) as client:
            await wait_for(lambda: _answers(client))
            response = await client.get("/health")
            assert response.status_code == 503
            body = response.json()
            assert body["status"] == "down" and body["redis"]["connected"] is False
            assert body["metrics"]["cross_exchange_intelligence"] is False
            assert "127.0.0.1" not in response.text or "redis://" not in response.text
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        await redis.aclose()


async def test_features_say_when_the_lookback_exceeds_the_retained_history(
    redis_server: Any, settings_factory: Any
) -> None:
    """The oldest entry exchange.features still holds bounds every lookback: the response
    reports that span (`retained_seconds`) and `truncated: true` when more was asked for."""
    from microservices.common.derived_schemas import FEATURE_NAMES
    from microservices.common.records import FeatureVector

    settings: Settings = settings_factory(redis_url=redis_server.url, api_port=free_port())
    features = settings.streams().features
    redis = create_redis(settings.redis_url or "")
    now = now_ms()
    # ten minutes of history, one vector a minute; entry ids carry the times
    for minutes_ago in range(10, 0, -1):
        ts = now - minutes_ago * 60_000
        vector = FeatureVector(symbol="BTCUSDT", ts_ms=ts, values=dict.fromkeys(FEATURE_NAMES, 1.0))
        fields: dict[Any, Any] = dict(features.schema.encode(vector))
        await redis.xadd(features.name, fields, id=f"{ts}-0")
    stop = asyncio.Event()
    task = asyncio.create_task(Engine(settings, redis)._serve(stop))
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{settings.api_port}", timeout=10
        ) as client:
            await wait_for(lambda: _answers(client))
            inside = (await client.get("/api/v1/features/BTCUSDT?lookback=300")).json()
            beyond = (await client.get("/api/v1/features/BTCUSDT?lookback=86400")).json()
            latest_only = (await client.get("/api/v1/features/BTCUSDT?lookback=0")).json()
            schema = (await client.get("/openapi.json")).json()
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        await redis.aclose()
    for body in (inside, beyond, latest_only):
        assert 600 <= body["retained_seconds"] < 86_400  # the oldest entry is 10 min old
    assert inside["truncated"] is False and len(inside["history"]) == 4  # 4, 3, 2, 1 min ago
    assert beyond["truncated"] is True and len(beyond["history"]) == 10
    assert latest_only["truncated"] is False and latest_only["history"] == []
    props = schema["components"]["schemas"]["FeaturesResponse"]["properties"]
    assert "MAXLEN_FEATURES" in props["retained_seconds"]["description"]
    assert "lookback" in props["truncated"]["description"]


async def test_exit_plan_prices_sit_on_the_venue_tick(engine: tuple[Settings, str]) -> None:
    """TP 1.008 % and SL 0.50396 % from 100.0 (the fixture's funding and divergence) are
    101.008 and 99.49604: on tick 0.1 (binance_futures, the first of VENUES listing BTCUSDT)
    101.0 and 99.5, toward entry; on bybit's 0.001, 101.008 and 99.497; unrounded on a venue
    without a known tick; a venue not listing the symbol is refused naming those that do."""
    settings, base = engine
    redis = create_redis(settings.redis_url or "")
    inst = {"symbol": "BTCUSDT", "base": "BTC", "quote": "USDT", "market": "perpetual",
            "inverse": False, "lot_size": 0.001, "contract_size": 1.0, "status": "trading"}  # fmt: skip
    listed = {
        "coinbase": {**inst, "venue_symbol": "BTC-USD", "tick_size": None},
        "bybit": {**inst, "venue_symbol": "BTCUSDT", "tick_size": 0.001},
        "binance_futures": {**inst, "venue_symbol": "BTCUSDT", "tick_size": 0.1},
    }
    key = collector_key(settings.stream_prefix, "symbols")
    await redis.hset(key, mapping={"BTCUSDT": orjson.dumps(listed)})
    await redis.aclose()
    position = {"symbol": "BTCUSDT", "side": "long", "entry_price": 100.0}
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:

        async def plan(**extra: str) -> Any:
            answer = await client.post("/api/v1/exit-plan", json={**position, **extra})
            body = answer.json()
            return body if answer.status_code == 200 and not body["local_mode"] else None

        default = await wait_for(plan)
        assert (default["venue"], default["tick_size"]) == ("binance_futures", 0.1)
        assert (default["tp_price"], default["sl_price"]) == (101.0, 99.5)
        fine = await plan(venue="bybit")
        assert (fine["venue"], fine["tick_size"]) == ("bybit", 0.001)
        assert (fine["tp_price"], fine["sl_price"]) == (101.008, 99.497)
        unknown_tick = await plan(venue="coinbase")
        assert (unknown_tick["venue"], unknown_tick["tick_size"]) == ("coinbase", None)
        assert unknown_tick["tp_price"] == pytest.approx(101.008)
        refused = await client.post("/api/v1/exit-plan", json={**position, "venue": "okx"})
        assert refused.status_code == 422
        assert refused.json()["detail"] == (
            "venue 'okx' does not list BTCUSDT; venues listing it: binance_futures, bybit, coinbase"
        )
