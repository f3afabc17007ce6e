"""The anomaly monitor across a failover, on a real redis-server: leased owner A folds part of
two shards of exchange.normalized and dies with a batch unacknowledged (its outputs written,
or not yet); owner B takes both shards, rebuilds, and folds the rest. exchange.anomalies:{i}
and the ANOMALY_BURST alerts then equal those of one monitor fed every entry once (same
records, same count), and B's per-symbol state equals that monitor's."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
import redis.asyncio as aredis

from microservices.common.lease_scripts import Fenced
from microservices.common.producer import StreamProducer
from microservices.common.records import NormalizedSnapshot
from microservices.common.settings import Settings
from microservices.common.shard_lease import lease_key
from microservices.common.sharding import shard_of
from microservices.ml.anomaly_monitor import AnomalyMonitor
from microservices.ml.anomaly_service import ANOMALY_GROUP, AnomalyService, monitor_params
from microservices.ml.anomaly_shards import Seen, Written
from tests.integration.test_pipeline import publish
from tests.reliability.helpers import eventually
from tests.unit.anomaly.series import NOW, planted_series, snapshot

pytestmark = pytest.mark.integration
# home shards of 2: BTCUSDT and ADAUSDT 1, ETHUSDT 0
SEEDS = {"BTCUSDT": 4, "ADAUSDT": 7, "ETHUSDT": 11}
SAMPLES = 160
HANG_AT = NOW + 100_000  # A's batch that reaches sample 100 (a binance volume burst) hangs
ALL = Written(trimmed_before=(2**62, 0))  # every output taken as written
NOTHING_LEFT = Seen(ALL, ALL)  # a batch folded, its outputs never written (a crash)


def snapshots(start: int, stop: int) -> list[NormalizedSnapshot]:
    """Every symbol's snapshot per second (time order), and one between samples every 10 s
    (a snapshot the monitor skips)."""
    series = {symbol: planted_series(SAMPLES, seed) for symbol, seed in SEEDS.items()}
    out = []
    for i in range(start, stop):
        for symbol in SEEDS:
            snap = replace(snapshot(i, series[symbol]), symbol=symbol)
            out.append(snap)
            if i % 10 == 5:
                out.append(replace(snap, ts_ms=snap.ts_ms + 500))
    return out


@pytest.fixture
def settings(redis_server: Any, settings_factory: Any) -> Settings:
    return settings_factory(  # type: ignore[no-any-return]
        redis_url=redis_server.url, stream_shards=2, shard_leases=True,
        shard_lease_ttl_ms=600, consumer_batch_size=20, consumer_block_ms=100,
    )  # fmt: skip


def dying_owner(service: AnomalyService, written: bool) -> set[int]:
    """Make `service` hang, unacknowledged, in the batch that reaches HANG_AT (its outputs
    written first, or left unwritten); the shards hung so far."""
    handle, hung = service._handle, set()

    async def handle_then_hang(shard: int, batch: list[Any], seen: Seen | None = None) -> None:
        if seen is not None or batch[-1][1].ts_ms < HANG_AT:
            await handle(shard, batch, seen)
            return
        await handle(shard, batch, None if written else NOTHING_LEFT)
        assert await all_written(service)  # written by the handler, before acknowledging
        hung.add(shard)
        await asyncio.Event().wait()  # never acknowledged: the process "dies" in here

    service._handle = handle_then_hang  # type: ignore[method-assign]
    return hung


async def all_written(service: AnomalyService) -> bool:
    """Every output `service` published is in Redis."""
    published = service.published
    return (
        service.publisher.written == published["point"] + published["burst"]
        and service.producer.sent == published["alerts"]
    )


async def kill(service: AnomalyService, task: asyncio.Future[Any]) -> None:
    """End `service` as a crash would: no lease released, nothing acknowledged or flushed."""
    assert service.role.leases is not None

    async def released() -> set[int]:
        return set()

    service.role.leases.release_all = released  # type: ignore[method-assign]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def caught_up(redis: aredis.Redis, settings: Settings) -> bool:
    """Every shard's anomaly group has delivered its newest entry, nothing pending."""
    for shard in settings.streams().normalized.shards_all():
        groups: Any = await redis.xinfo_groups(shard.name)
        newest: Any = await redis.xrevrange(shard.name, count=1)
        group = next((g for g in groups if g["name"] == ANOMALY_GROUP.encode()), None)
        if group is None or group["pending"] or group["last-delivered-id"] != newest[0][0]:
            return False
    return True


@pytest.mark.parametrize(
    ("written", "crash"),
    [(True, True), (False, True), (True, False)],
    ids=["outputs-written", "outputs-lost", "clean-stop"],
)
async def test_failover_leaves_the_outputs_of_one_pass(
    real_redis: aredis.Redis, settings: Settings, written: bool, crash: bool
) -> None:
    """A crash (leases expire) or a clean stop (leases released: its hung batch cancelled
    after the stop grace, unacknowledged)."""
    streams = settings.streams()
    producers = [StreamProducer(real_redis), StreamProducer(real_redis)]
    first = AnomalyService(settings, real_redis, producers[0], "anomaly-a")
    hung = dying_owner(first, written)
    stops = [asyncio.Event(), asyncio.Event()]
    task = asyncio.ensure_future(first.run(stops[0]))
    await eventually(lambda: _true(len(first.units) == 2), 20, "A owning both shards")
    await publish(real_redis, streams.normalized, snapshots(0, 120))
    await eventually(lambda: _true(hung == {0, 1}), 20, "A hung in a batch of each shard")
    assert first.published["point"] > 0
    if crash:
        await kill(first, task)
    else:
        stops[0].set()
        await asyncio.wait_for(task, 10)

    await publish(real_redis, streams.normalized, snapshots(120, 140))
    second = AnomalyService(settings, real_redis, producers[1], "anomaly-b")
    tasks = [asyncio.create_task(second.run(stops[1]))]
    try:
        await eventually(lambda: _true(len(second.units) == 2), 20, "B owning both shards")
        await publish(real_redis, streams.normalized, snapshots(140, SAMPLES))
        await eventually(lambda: caught_up(real_redis, settings), 20, "B caught up")
    finally:
        stops[1].set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)

    references = await single_pass(real_redis, settings)
    alerts = []
    for shard, reference in references.items():
        rows: Any = await real_redis.xrange(streams.anomalies.shard(shard).name)
        records = [streams.anomalies.schema.decode(fields) for _, fields in rows]
        assert records == reference.records, shard  # same records, same order, same count
        assert len(records) >= 5
        alerts += reference.alerts
        monitor = second.units[shard].monitor
        assert dict(monitor.symbols) == dict(reference.monitor.symbols)
        assert (monitor.samples, monitor.skipped, monitor.rejected, monitor.dips) == (
            reference.monitor.samples, reference.monitor.skipped,
            reference.monitor.rejected, reference.monitor.dips,
        )  # fmt: skip
        assert monitor.samples == SAMPLES * len([s for s in SEEDS if shard_of(s, 2) == shard])
    rows = await real_redis.xrange(streams.market_alerts.name)
    stored = [streams.market_alerts.schema.decode(fields) for _, fields in rows]
    assert sorted(stored, key=_alert_order) == sorted(alerts, key=_alert_order)
    assert len(stored) >= 4
    # every output published once, by A or by B
    records = [r for reference in references.values() for r in reference.records]
    totals = {"point": sum(r.kind == "point" for r in records), "alerts": len(alerts)}
    totals["burst"] = len(records) - totals["point"]
    both = {k: first.published[k] + second.published[k] for k in totals}
    assert both == totals
    assert second.published["burst"] > 0


class SinglePass:
    def __init__(self, settings: Settings) -> None:
        self.monitor = AnomalyMonitor(monitor_params(settings))
        self.records: list[Any] = []
        self.alerts: list[Any] = []


async def single_pass(redis: aredis.Redis, settings: Settings) -> dict[int, SinglePass]:
    """Per shard: one monitor fed every entry of the shard once, as Redis holds them."""
    out = {}
    for shard in settings.streams().normalized.shards_all():
        reference = out[shard.index or 0] = SinglePass(settings)
        rows: Any = await redis.xrange(shard.name)
        for _, fields in rows:
            findings = reference.monitor.update(shard.schema.decode(fields))
            reference.records += findings.anomalies
            reference.alerts += findings.alerts
    return out


def _alert_order(alert: Any) -> tuple[int, str, str]:
    return alert.ts_ms, alert.symbol, alert.venue


async def _true(value: bool) -> bool:
    return value


async def test_a_former_owner_writes_no_alert(real_redis: aredis.Redis, settings: Settings) -> None:
    """`alerts` is not fenced: a leased owner writes a burst's alert only while the shard's
    lease holds its token; otherwise it loses the shard and raises Fenced (the batch stays
    pending for the new owner)."""
    streams = settings.streams()
    series = planted_series()
    batch = [(f"{i + 1}-0", snapshot(i, series)) for i in range(103)]  # the burst ends at 102
    key = lease_key(settings.stream_prefix, "anomaly", 1)
    for token, owner in ((6, "anomaly-a"), (7, "anomaly-b")):
        await real_redis.set(key, f"7 {owner}")  # the lease is at token 7 now
        service = AnomalyService(settings, real_redis, StreamProducer(real_redis), owner)
        service.role._tokens[1] = token  # taken with this token
        service._unit(1)
        if token == 6:
            with pytest.raises(Fenced):
                await service._handle(1, batch)
            assert (service.role.token(1), sorted(service.units)) == (None, [])
            assert await real_redis.xlen(streams.market_alerts.name) == 0
        else:
            await service._handle(1, batch)
            rows: Any = await real_redis.xrange(streams.market_alerts.name)
            assert [f[b"type"] for _, f in rows] == [b"ANOMALY_BURST"]
