"""The engine with a promoted model, over real HTTP and a real redis-server: no model -> no
signals and /health says so; `model promote` -> the engine loads it and publishes
exchange.signals, served by /api/v1/signals/{symbol} and beside the exit plan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from microservices.ai_engine.engine import Engine
from microservices.cli import main
from microservices.common.clock import now_ms
from microservices.common.producer import StreamProducer
from microservices.common.redis_io import create_redis
from microservices.common.redis_server import free_port
from microservices.common.settings import Settings
from microservices.ml.registry import ModelRegistry
from microservices.ml.signals import Thresholds, load_model, score
from tests.integration.test_api_http import wait_for
from tests.integration.test_pipeline import raw_records

pytestmark = pytest.mark.integration
pytest.importorskip("lightgbm")


@pytest.fixture
def trained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One trained (not promoted) version in tmp_path/models."""
    models = tmp_path / "models"
    monkeypatch.setenv("ML_MODEL_DIR", str(models))
    (tmp_path / "empty.env").write_text("")
    args = ["--env-file", str(tmp_path / "empty.env"), "train", "--generated", "--rows", "3000",
            "--label", "sign", "--horizon", "5s", "--rounds", "60"]  # fmt: skip
    assert main(args) == 0
    return models


@pytest.fixture
async def engine(
    trained: Path, redis_server: Any, settings_factory: Any
) -> AsyncIterator[tuple[Settings, httpx.AsyncClient]]:
    settings: Settings = settings_factory(
        redis_url=redis_server.url, api_port=free_port(), venues="binance_futures,bybit,coinbase",
        ml_model_dir=str(trained), ml_reload_s=0.1, anomaly_enabled=False,
    )  # fmt: skip
    redis = create_redis(settings.redis_url or "")
    stop = asyncio.Event()
    task = asyncio.create_task(Engine(settings, redis).run(stop))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.api_port}",
                                 timeout=10) as client:  # fmt: skip
        await wait_for(lambda: _health(client))
        yield settings, client
    stop.set()
    await asyncio.wait_for(task, timeout=15)
    await redis.aclose()


async def _health(client: httpx.AsyncClient) -> Any:
    try:
        return (await client.get("/health")).json()
    except httpx.TransportError:
        return None


async def _publish_raw(settings: Settings) -> None:
    redis = create_redis(settings.redis_url or "")
    producer = StreamProducer(redis)
    for record in raw_records(now_ms()):
        producer.publish(settings.streams().raw, record)
    await producer.flush()
    await redis.aclose()


async def test_engine_serves_signals_of_the_promoted_model(
    engine: tuple[Settings, httpx.AsyncClient], real_redis: Any
) -> None:
    settings, client = engine
    health = await _health(client)
    assert health["ml"]["state"] == "no_model" and health["ml"]["current"] is None
    await _publish_raw(settings)
    await wait_for(lambda: _has_features(real_redis, settings))
    missing = await client.get("/api/v1/signals/BTCUSDT")
    assert missing.status_code == 404 and "model promote" in missing.json()["detail"]
    assert await real_redis.xlen(settings.streams().signals.name) == 0

    registry = ModelRegistry(Path(settings.ml_model_dir))
    registry.promote("v0001")
    serving = await wait_for(lambda: _ml_state(client, "serving"))
    assert serving["loaded_version"] == "v0001" and serving["has_meta"] is True

    await _publish_raw(settings)
    body = await wait_for(lambda: _ok_json(client, "/api/v1/signals/btcusdt"))
    assert body["symbol"] == "BTCUSDT" and body["model_version"] == "v0001"
    assert 0.0 <= body["probability"] <= 1.0 and body["threshold"] == 0.5
    assert body["burst_confirmed"] is False  # two snapshots: the filter has no window yet
    assert body["decision"] is False

    # the published probability is the model's on the very vector exchange.features holds
    rows: Any = await real_redis.xrevrange(settings.streams().features.name)
    vectors = [settings.streams().features.schema.decode(f) for _, f in rows]
    vector = next(v for v in vectors if v.symbol == "BTCUSDT" and v.ts_ms == body["ts_ms"])
    model = load_model(registry.get("v0001"))
    expected = score(model, vector, (False, 0.0), Thresholds())
    assert body["probability"] == pytest.approx(expected.probability, rel=1e-9)
    assert (body["meta_probability"] is None) == (expected.meta_probability is None)
    if expected.meta_probability is not None:
        assert np.isclose(body["meta_probability"], expected.meta_probability)

    plan = await client.post("/api/v1/exit-plan", json={
        "symbol": "BTCUSDT", "side": "long", "entry_price": 100.0})  # fmt: skip
    assert plan.status_code == 200, plan.text
    assert plan.json()["signal"]["model_version"] == "v0001"
    assert plan.json()["tp_multiplier"] > 0  # the multipliers are still there beside it
    health = await _health(client)
    assert health["ml"]["signals_published"] >= 3  # one per symbol's vector
    assert "ce_ml_signals_total" in (await client.get("/metrics")).text


async def _has_features(redis: Any, settings: Settings) -> bool:
    return bool(await redis.xlen(settings.streams().features.name))


async def _ml_state(client: httpx.AsyncClient, state: str) -> Any:
    body = await _health(client)
    return body["ml"] if body and body["ml"]["state"] == state else None


async def _ok_json(client: httpx.AsyncClient, path: str) -> Any:
    response = await client.get(path)
    return response.json() if response.status_code == 200 else None
