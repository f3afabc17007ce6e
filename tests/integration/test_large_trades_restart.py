"""The large-trade watcher restarted or cut short: a static watcher restarted after a crash,
a rebuild that meets a Redis error, and a former owner whose lease moved on. Each large trade
and alert is written once (issue 19, SPEC section 8)."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aredis

from microservices.ai_engine.large_trades.rebuild import Rebuilt, alert_key, fields_key
from microservices.ai_engine.large_trades.service import GROUP, LargeTradeService
from microservices.common.settings import Settings
from tests.integration.large_trades_feed import (  # noqa: F401 - backend: a fixture
    ACKED,
    EVERY,
    LATER,
    READ,
    UNREAD,
    WRITTEN,
    backend,
    single_watcher,
)
from tests.integration.test_pipeline import publish

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(redis_server: Any, settings_factory: Any) -> Settings:
    return settings_factory(  # type: ignore[no-any-return]
        redis_url=redis_server.url, stream_shards=4, shard_leases=True,
        shard_lease_ttl_ms=600, liquidation_cluster_count=3,
    )  # fmt: skip


async def test_a_restarted_static_watcher_writes_each_output_once(
    backend: aredis.Redis,  # noqa: F811 - the fixture imported above
    settings_factory: Any,
) -> None:
    """One shard, static ownership (the default): a watcher that crashed with a batch written
    but not acknowledged and one read but not handled is restarted under the same consumer
    name; it rebuilds the shard's watch at start and writes what is missing, once."""
    settings: Settings = settings_factory(liquidation_cluster_count=3)
    streams = settings.streams()
    first = LargeTradeService(settings, backend)
    await publish(backend, streams.raw, ACKED)
    assert await first.consumer.run_until_idle() == len(ACKED)
    await publish(backend, streams.raw, WRITTEN)
    rows: Any = await backend.xreadgroup(GROUP, first.role.owner, {streams.raw.name: ">"})
    await first.handle([(i.decode(), streams.raw.schema.decode(f)) for i, f in rows[0][1]])
    await publish(backend, streams.raw, READ)
    await backend.xreadgroup(GROUP, first.role.owner, {streams.raw.name: ">"})
    await publish(backend, streams.raw, UNREAD)  # then the crash: nothing acknowledged

    again = LargeTradeService(settings, backend)
    assert again.role.owner == first.role.owner
    assert await again.rebuild(0) == Rebuilt(folded=15, trades=1, alerts=1, skipped=3)
    await publish(backend, streams.raw, LATER)
    assert await again.consumer.run_until_idle() == len(LATER)
    reference = single_watcher(EVERY, settings)
    trades, alerts = reference.take()
    rows = await backend.xrange(streams.large_trades.name)
    assert [streams.large_trades.schema.decode(f) for _, f in rows] == trades
    rows = await backend.xrange(streams.market_alerts.name)
    assert sorted(fields_key(f) for _, f in rows) == sorted(map(alert_key, alerts))
    assert again.watch.snapshot() == reference.snapshot()
    pending: Any = await backend.xpending(streams.raw.name, GROUP)
    assert pending["pending"] == 0


async def test_a_rebuild_cut_short_by_redis_is_retried_without_duplicates(
    backend: aredis.Redis,  # noqa: F811 - the fixture imported above
    settings_factory: Any,
) -> None:
    """The first rebuild's writes fail (Redis gone between the read and the write): it
    raises, its outputs stay buffered and its watch keeps what it folded; the retry folds
    only the rest, writes the buffered outputs before restarting the group, and every output
    is written once."""
    settings: Settings = settings_factory(liquidation_cluster_count=3)
    streams = settings.streams()
    await publish(backend, streams.raw, EVERY)
    service = LargeTradeService(settings, backend)
    real_write = service.producer._write
    calls = 0

    async def down_once(batch: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("Redis went away")
        await real_write(batch)

    service.producer._write = down_once  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await service.rebuild(0)
    assert await backend.xlen(streams.large_trades.name) == 0  # nothing written yet...
    assert service.units[0].applied > (0, 0)  # ...but the first page was folded
    await service.rebuild(0)
    reference = single_watcher(EVERY, settings)
    trades, alerts = reference.take()
    rows: Any = await backend.xrange(streams.large_trades.name)
    assert [streams.large_trades.schema.decode(f) for _, f in rows] == trades
    rows = await backend.xrange(streams.market_alerts.name)
    assert sorted(fields_key(f) for _, f in rows) == sorted(map(alert_key, alerts))
    assert service.watch.snapshot() == reference.snapshot()
    [group] = await backend.xinfo_groups(streams.raw.name)
    last: Any = await backend.xrevrange(streams.raw.name, count=1)
    assert (group["last-delivered-id"], group["pending"]) == (last[0][0], 0)


async def test_a_former_owner_writes_no_alerts(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    """A paused owner whose lease moved on (token 6, the lease now holds 7) handles a batch
    that raises a funding spike and no large trade (no fenced write to notice the loss): the
    unfenced `alerts` get nothing (the lease is read first), the shard is dropped and the
    batch stays pending for the new owner."""
    streams = settings.streams()
    service = LargeTradeService(settings, real_redis, consumer_name="large-paused")
    service.role._tokens[3] = 6  # as if its lease had been taken with token 6
    service._take_unit(3, 6)
    await real_redis.set(service.role.lease_key(3), "7 the-new-owner")
    await publish(real_redis, streams.raw, ACKED[6:8])  # 0.02 then 0.15 %/8h: a spike
    consumer = service.consumers[3]
    assert await consumer.start() == 0
    assert await consumer.step(block=False) == 0  # handled, nothing acknowledged
    assert await real_redis.xlen(streams.large_trades.shard(3).name) == 0
    assert await real_redis.exists(streams.market_alerts.name) == 0
    assert service.role.token(3) is None and 3 not in service.units
    pending: Any = await real_redis.xpending(streams.raw.shard(3).name, GROUP)
    assert pending["pending"] == 2
