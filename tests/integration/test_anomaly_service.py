"""The anomaly monitor's service on a real redis-server: exchange.normalized entries with planted
anomalies in, the exact exchange.anomalies entries and ANOMALY_BURST alerts out."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aredis

from microservices.common.producer import StreamProducer
from microservices.common.settings import Settings
from microservices.ml.anomaly_monitor import AnomalyMonitor
from microservices.ml.anomaly_service import ANOMALY_GROUP, AnomalyService, monitor_params
from tests.integration.test_pipeline import publish
from tests.unit.anomaly.series import NOW, planted_series, snapshot
from tests.unit.anomaly.test_anomaly_monitor import EXPECTED

pytestmark = pytest.mark.integration


async def test_service_publishes_anomalies_and_burst_alerts(
    real_redis: aredis.Redis, redis_server: Any, settings_factory: Any
) -> None:
    settings: Settings = settings_factory(redis_url=redis_server.url)
    streams = settings.streams()
    series = planted_series()
    await publish(real_redis, streams.normalized, [snapshot(i, series) for i in range(160)])
    producer = StreamProducer(real_redis)
    service = AnomalyService(settings, real_redis, producer)
    assert await service.consumer.run_until_idle() == 160
    await producer.flush()

    rows: Any = await real_redis.xrange(streams.anomalies.name)
    records = [streams.anomalies.schema.decode(fields) for _, fields in rows]
    found = [((r.ts_ms - NOW) // 1000, r.series, r.venue, r.kind) for r in records]
    # a burst entry carries its last anomaly's time, the sample that completed it
    assert found == EXPECTED
    # the same records as the pure monitor on the snapshots as Redis holds them
    stored: Any = await real_redis.xrange(streams.normalized.name)
    reference = AnomalyMonitor(monitor_params(settings))
    expected = [
        record
        for _, fields in stored
        for record in reference.update(streams.normalized.schema.decode(fields)).anomalies
    ]
    assert records == expected
    burst_fields = {k.decode(): v.decode() for k, v in rows[5][1].items()}
    assert set(burst_fields) == {"symbol", "series", "venue", "kind", "timestamp", "value",
                                 "score", "threshold", "window", "start", "points",
                                 "mean_score"}  # fmt: skip
    assert (burst_fields["venue"], burst_fields["start"], burst_fields["timestamp"]) == (
        "binance", "1760000100.000", "1760000102.000",
    )  # fmt: skip
    assert (burst_fields["points"], burst_fields["window"], burst_fields["threshold"]) == (
        "3", "103", "3.0",
    )  # fmt: skip

    alert_rows: Any = await real_redis.xrange(streams.market_alerts.name)
    alerts = [streams.market_alerts.schema.decode(fields) for _, fields in alert_rows]
    assert [
        (a.type, a.source, a.symbol, a.venue, a.data["series"], a.data["start_ms"]) for a in alerts
    ] == [
        ("ANOMALY_BURST", "anomaly", "BTCUSDT", "binance", "volume", NOW + 100_000),
        ("ANOMALY_BURST", "anomaly", "BTCUSDT", "", "return", NOW + 130_000),
    ]
    assert alerts[0].data["max_score"] == round(records[5].score, 4)
    pending: Any = await real_redis.xpending(streams.normalized.name, ANOMALY_GROUP)
    assert pending["pending"] == 0
    health = service.health()  # the /health `anomalies` block
    points = sum(r.kind == "point" for r in records)
    assert health["published"] == {"point": points, "burst": len(records) - points, "alerts": 2}
    assert health["samples"] == service.monitor.samples > 0


async def test_engine_runs_the_monitor_unless_disabled(
    real_redis: aredis.Redis, redis_server: Any, settings_factory: Any
) -> None:
    from microservices.ai_engine.engine import Engine

    enabled = Engine(settings_factory(redis_url=redis_server.url), real_redis)
    assert isinstance(enabled.anomalies, AnomalyService)
    assert enabled.anomalies.consumer.group == ANOMALY_GROUP
    disabled = Engine(
        settings_factory(redis_url=redis_server.url, anomaly_enabled=False), real_redis
    )
    assert disabled.anomalies is None
    assert disabled.context.health_blocks["anomalies"]() == {"enabled": False}
    assert enabled.context.health_blocks["anomalies"]()["enabled"] is True
