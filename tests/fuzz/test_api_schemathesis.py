"""Schemathesis against the service's own OpenAPI schema: no input makes it answer 5xx.

The app runs in-process (ASGI) on fakeredis with data in every stream, so generated requests
reach real code paths (lookups, decoding, the exit planner), not just validation errors.
"""

from __future__ import annotations

import asyncio
from typing import Any

import fakeredis
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from microservices.ai_engine.engine import Engine
from microservices.common.clock import now_ms
from microservices.common.producer import StreamProducer
from microservices.common.settings import load_settings
from tests.integration.test_pipeline import raw_records

pytestmark = pytest.mark.slow


def _seeded_app() -> Any:
    server = fakeredis.FakeServer()
    redis = fakeredis.FakeAsyncRedis(server=server, decode_responses=False)
    app_settings = load_settings(env_file=None, redis_url="redis://fake:6379/0",
                                 venues="binance_futures,bybit,coinbase")  # fmt: skip
    engine = Engine(app_settings, redis)

    async def seed() -> None:
        producer = StreamProducer(redis)
        for record in raw_records(now_ms()):
            producer.publish(app_settings.streams().raw, record)
        await producer.flush()
        await engine.aggregator.consumer.run_until_idle()  # type: ignore[union-attr]
        engine.aggregator.emit()  # type: ignore[union-attr]
        await engine.producer.flush()
        await engine.features.consumer.run_until_idle()
        await engine.producer.flush()

    asyncio.run(seed())
    return engine.app


# Loaded at import: schemathesis.pytest.from_fixture does not work with pytest 9. The live
# event stream (Server-Sent Events) never ends by design, so it is tested over HTTP instead
# (tests/integration/test_dashboard_http.py).
schema = schemathesis.openapi.from_asgi("/openapi.json", _seeded_app()).exclude(
    path="/api/v1/stream"
)


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_fails_on_any_input(case: Any) -> None:
    response = case.call()
    if case.path == "/health" and response.status_code == 503:
        # readiness, not a failure: the data seeded at import is stale once the run has
        # taken longer than EXITBRAIN_STALE_AFTER_S to reach this test (a slow CI box)
        assert response.json()["status"] == "down"
        return
    if response.status_code == 503 and "503" in case.operation.definition.raw["responses"]:
        # a documented "not available": no database configured here, no option summary yet
        assert response.json()["detail"]
        return
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])
    case.validate_response(response, checks=[schemathesis.checks.not_a_server_error])
