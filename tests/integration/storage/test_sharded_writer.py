"""The writer with STREAM_SHARDS=4 against real PostgreSQL and a real redis-server: it reads
every shard of each stream and files every entry once, also a record that the producer wrote
to every shard (the stablecoin context)."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aredis

from microservices.common.producer import StreamProducer
from microservices.common.records import Funding
from microservices.storage.service import StoreService
from microservices.storage.writer import GROUP
from tests import factories
from tests.factories import T0, header
from tests.integration.storage.helpers import count, fetch, run_store_until

pytestmark = pytest.mark.integration
SYMBOLS = ("ETHUSDT", "ADAUSDT", "BNBUSDT", "BTCUSDT")  # home shards 0, 1, 2, 3 of 4


def funding(group: str, ts_ms: int) -> Funding:
    return Funding(**header(exchange="bybit", market="perp", symbol=group, venue_symbol=group,
                            group=group, ts_ms=ts_ms), funding_rate=0.0001,
                   funding_interval_h=8.0)  # fmt: skip


async def stored_all(redis: aredis.Redis, streams: Any) -> bool:
    for stream in (streams.raw, streams.normalized, streams.features):
        for shard in stream.shards_all():
            groups: Any = await redis.xinfo_groups(shard.name)
            mine = [g for g in groups if g["name"] in (GROUP, GROUP.encode())]
            if not mine or mine[0]["pending"] or mine[0]["lag"]:
                return False
    return True


async def test_every_shard_is_stored_once(
    real_redis: aredis.Redis, pg_url: str, settings_factory: Any
) -> None:
    settings = settings_factory(
        stream_shards=4, store_block_ms=100, store_orderbook_interval_s=3600,
        store_retention_interval_s=3600,
    )  # fmt: skip
    streams = settings.streams()
    producer = StreamProducer(real_redis)
    for n in range(3):
        for symbol in SYMBOLS:
            producer.publish(streams.raw, funding(symbol, T0 + n))
            producer.publish(streams.normalized, factories.snapshot(symbol=symbol, ts_ms=T0 + n))
            producer.publish(streams.features, factories.features(symbol))
    producer.publish(streams.raw, funding("USDCUSDT", T0))  # context: in every shard
    await producer.flush()
    lengths = [await real_redis.xlen(s.name) for s in streams.raw.shards_all()]
    assert lengths == [4, 4, 4, 4]  # 3 of its symbol + the context record
    assert await real_redis.exists(streams.raw.base) == 0

    service = StoreService(settings, real_redis, pg_url)
    await run_store_until(service, lambda: stored_all(real_redis, streams))

    rows = await fetch(pg_url, "SELECT symbol, count(*) AS n FROM funding_rates GROUP BY symbol")
    assert {r["symbol"]: r["n"] for r in rows} == {**dict.fromkeys(SYMBOLS, 3), "USDCUSDT": 1}
    rows = await fetch(pg_url, "SELECT symbol, count(*) AS n FROM normalized GROUP BY symbol")
    assert {r["symbol"]: r["n"] for r in rows} == dict.fromkeys(SYMBOLS, 3)
    assert await count(pg_url, "features") == 4  # one vector per symbol (same ts, same key)
    stored = service.status.entries_stored
    assert {name: stored[name] for name in streams.raw.names()} == dict.fromkeys(
        streams.raw.names(), 4
    )
    assert sum(stored[name] for name in streams.normalized.names()) == 12
    assert service.status.state == "ok" and not service.status.lost
