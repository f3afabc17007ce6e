"""The anomaly monitor's rebuild with static ownership and one shard (the default deployment),
on a real redis-server: a restart with a batch read but never acknowledged leaves the outputs
of one pass; a re-delivered batch changes nothing; outputs trimmed from their stream are not
published again. The handler writes a batch's outputs before the batch is acknowledged."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aredis
from redis.exceptions import ConnectionError as RedisConnectionError

from microservices.common.producer import StreamProducer
from microservices.common.settings import Settings
from microservices.common.shard_read import id_order
from microservices.ml.anomaly_monitor import AnomalyMonitor
from microservices.ml.anomaly_service import ANOMALY_GROUP, AnomalyService, monitor_params
from microservices.ml.anomaly_shards import alert_key, anomaly_key, read_written
from tests.integration.test_pipeline import publish
from tests.unit.anomaly.series import planted_series, snapshot

pytestmark = pytest.mark.integration
SAMPLES = 160


@pytest.fixture
def settings(redis_server: Any, settings_factory: Any) -> Settings:
    return settings_factory(redis_url=redis_server.url, consumer_batch_size=25)  # type: ignore[no-any-return]


async def outputs(redis: aredis.Redis, settings: Settings) -> tuple[list[Any], list[Any]]:
    streams = settings.streams()
    rows: Any = await redis.xrange(streams.anomalies.name)
    alert_rows: Any = await redis.xrange(streams.market_alerts.name)
    return (
        [streams.anomalies.schema.decode(f) for _, f in rows],
        [streams.market_alerts.schema.decode(f) for _, f in alert_rows],
    )


async def one_pass(redis: aredis.Redis, settings: Settings) -> tuple[AnomalyMonitor, Any]:
    """One monitor fed every entry once, as Redis holds them: it and its (records, alerts)."""
    normalized = settings.streams().normalized
    monitor, records, alerts = AnomalyMonitor(monitor_params(settings)), [], []
    rows: Any = await redis.xrange(normalized.name)
    for _, fields in rows:
        findings = monitor.update(normalized.schema.decode(fields))
        records += findings.anomalies
        alerts += findings.alerts
    return monitor, (records, alerts)


async def test_a_restart_with_a_batch_unacknowledged_leaves_one_pass(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    streams = settings.streams()
    series = planted_series()
    await publish(real_redis, streams.normalized, [snapshot(i, series) for i in range(120)])
    producer = StreamProducer(real_redis)
    first = AnomalyService(settings, real_redis, producer)
    consumer = first.consumer
    await consumer.ensure_group()
    for _ in range(4):  # 100 entries handled and acknowledged
        assert await consumer.step(block=False) == 25
    reply: Any = await real_redis.xreadgroup(  # the next batch read, handled, never acknowledged
        ANOMALY_GROUP, consumer.consumer, {consumer.stream.name: ">"}, count=25
    )
    [(_, entries)] = reply
    batch = [(i.decode(), streams.normalized.schema.decode(f)) for i, f in entries]
    await first.handle(batch)
    assert producer.pending == 0  # its outputs written by the handler (the burst at 102 and
    # its alert among them), before an acknowledgement
    assert first.published["burst"] == 1
    assert first.published["alerts"] == 1
    await publish(real_redis, streams.normalized, [snapshot(i, series) for i in range(120, 160)])

    restarted = AnomalyService(settings, real_redis, producer)  # same consumer name
    assert await restarted.rebuild(0) == SAMPLES
    assert await restarted.consumer.run_until_idle() == 0  # nothing pending, nothing new
    assert producer.pending == 0
    reference, expected = await one_pass(real_redis, settings)
    assert await outputs(real_redis, settings) == expected
    assert len(expected[0]) == 11
    assert len(expected[1]) == 2
    assert dict(restarted.monitor.symbols) == dict(reference.symbols)
    assert restarted.monitor.samples == reference.samples == SAMPLES
    assert restarted.published == {"point": 4, "burst": 1, "alerts": 1}  # 130-132 and 149
    pending: Any = await real_redis.xpending(streams.normalized.name, ANOMALY_GROUP)
    assert pending["pending"] == 0

    # the same entries delivered again (a retried batch): nothing folded, nothing published
    rows: Any = await real_redis.xrange(streams.normalized.name)
    again = [(i.decode(), streams.normalized.schema.decode(f)) for i, f in rows]
    skipped = restarted.monitor.skipped
    await restarted.handle(again)
    assert (restarted.monitor.samples, restarted.monitor.skipped) == (SAMPLES, skipped)
    assert restarted.published == {"point": 4, "burst": 1, "alerts": 1}


async def test_outputs_trimmed_away_are_not_published_again(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    streams = settings.streams()
    series = planted_series()
    await publish(real_redis, streams.normalized, [snapshot(i, series) for i in range(SAMPLES)])
    producer = StreamProducer(real_redis)
    assert await AnomalyService(settings, real_redis, producer).consumer.run_until_idle() == 160
    assert producer.pending == 0
    records, alerts = await outputs(real_redis, settings)
    assert (len(records), len(alerts)) == (11, 2)
    await real_redis.xtrim(streams.anomalies.name, maxlen=4, approximate=False)  # 4 of 11 kept
    rows: Any = await real_redis.xrange(streams.anomalies.name)
    written = await read_written(real_redis, streams.anomalies, anomaly_key, (0, 0))
    assert written.keys == {anomaly_key(r) for r in records[-4:]}
    assert written.trimmed_before == id_order(rows[0][0])
    alerts_written = await read_written(real_redis, streams.market_alerts, alert_key, (0, 0))
    assert alerts_written.keys == {alert_key(a) for a in alerts}
    assert alerts_written.trimmed_before == (0, 0)  # nothing has left the alerts stream

    # the group lost (a Redis restored without it): no entry counts as acknowledged, every
    # output found again is compared with the streams, the trimmed ones too
    await real_redis.xgroup_destroy(streams.normalized.name, ANOMALY_GROUP)
    restarted = AnomalyService(settings, real_redis, producer)
    assert await restarted.rebuild(0) == SAMPLES
    assert restarted.published == {"point": 0, "burst": 0, "alerts": 0}
    assert await real_redis.xrange(streams.anomalies.name) == rows
    assert await outputs(real_redis, settings) == (records[-4:], alerts)


async def test_a_failed_write_is_retried_with_the_batch(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    """Redis fails while a batch's outputs are written: the handler raises (the batch stays
    pending), the outputs stay buffered; the batch delivered again folds nothing and writes
    them, once."""
    streams = settings.streams()
    series = planted_series()
    batch = [(f"{i + 1}-0", snapshot(i, series)) for i in range(SAMPLES)]
    producer = StreamProducer(real_redis)
    service = AnomalyService(settings, real_redis, producer)
    write, failures = producer._write, [RedisConnectionError("down")]

    async def failing_write(entries: Any) -> None:
        if failures:
            raise failures.pop()
        await write(entries)

    producer._write = failing_write  # type: ignore[method-assign,assignment]
    with pytest.raises(RedisConnectionError):
        await service.handle(batch)
    assert await real_redis.xlen(streams.anomalies.name) == 0
    assert producer.pending == 1  # the first anomaly (sample 34), kept; the rest not yet read
    await service.handle(batch)  # delivered again
    assert producer.pending == 0
    assert await outputs(real_redis, settings) == one_pass_of(settings, batch)
    assert service.monitor.samples == SAMPLES


def one_pass_of(settings: Settings, batch: list[Any]) -> tuple[list[Any], list[Any]]:
    monitor, records, alerts = AnomalyMonitor(monitor_params(settings)), [], []
    for _, snap in batch:
        findings = monitor.update(snap)
        records += findings.anomalies
        alerts += findings.alerts
    return records, alerts
