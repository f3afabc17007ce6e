"""Alert delivery with STREAM_SHARDS=2 on a real redis-server: each target reads `alerts` and
every shard of exitbrain.alerts, delivers every alert once, and sums its lag over the shards."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aredis

from microservices.common.redis_io import xadd_record
from microservices.notify.service import Notifier
from tests.integration.notify_receiver import receiving
from tests.integration.test_notify_delivery import depeg, eventually, fallback
from tests.reliability.helpers import eventually as eventually_async

pytestmark = pytest.mark.integration


async def test_every_shard_of_exitbrain_alerts_is_delivered_once(
    real_redis: aredis.Redis, redis_server: Any, settings_factory: Any
) -> None:
    async with receiving() as receiver:
        target = {"name": "ops", "format": "json", "url": f"{receiver.base_url}/json/ops"}
        settings = settings_factory(redis_url=redis_server.url, alert_targets=[target],
                                    stream_shards=2, consumer_block_ms=100)  # fmt: skip
        streams = settings.streams()
        notifier = Notifier(settings, real_redis, consumer="notifier-shards")
        stop = asyncio.Event()
        task = asyncio.create_task(notifier.run(stop))
        names = [streams.market_alerts.name, *streams.alerts.names()]

        async def groups() -> bool:  # created at `$`: alerts added before them are not sent
            return all([await _has_group(real_redis, name) for name in names])

        try:
            await eventually_async(groups, 15, "the notify group on every shard")
            btc, eth = fallback(0), fallback(1)
            eth.symbol = "ETHUSDT"  # home shards 1 and 0 of 2
            keys = []
            for stream, alert in ((streams.alerts, btc), (streams.alerts, eth),
                                  (streams.market_alerts, depeg(0))):  # fmt: skip
                name = stream.route(alert)[0]
                keys.append(f"{name}:{(await xadd_record(real_redis, stream, alert)).decode()}")
            await eventually(lambda: len(receiver.delivered("/json/ops")) == 3)
            await notifier.write_health()
            lags = await notifier._lag(streams.alerts, "notify.ops")
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)
    assert sorted(receiver.keys("/json/ops")) == sorted(keys)
    assert {k.rsplit(":", 1)[0] for k in keys[:2]} == set(streams.alerts.names())
    assert lags == 0


async def _has_group(redis: aredis.Redis, name: str) -> bool:
    try:
        return bool(await redis.xinfo_groups(name))
    except aredis.ResponseError:
        return False
