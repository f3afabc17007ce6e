"""The services' own Redis uses on a real 3-master Redis Cluster (issue 19, item 3): the engine's
memory gauges and /health, the container healthcheck, the collector (records, health hash,
followed symbols) and the validation scripts. The bus itself: test_redis_cluster.py."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as aredis
from redis.asyncio.cluster import RedisCluster
from redis.cluster import RedisCluster as SyncRedisCluster

from microservices.ai_engine.health import gather_health
from microservices.common import metrics
from microservices.common.producer import StreamProducer
from microservices.common.redis_memory import cluster_memory_values, sample_redis_memory
from microservices.common.settings import Settings
from microservices.common.streams import collector_key
from microservices.data_collector.service import Collector
from microservices.exchange_simulator.config import MarketConfig, SimulatorConfig
from microservices.exchange_simulator.server import start_simulator
from microservices.healthcheck import heartbeat_exists
from microservices.runner import simulator_settings
from tests import factories as f
from tests.integration.test_redis_cluster import cluster_of
from tests.integration.test_validation_sharded import (  # noqa: F401 - stub_api: a fixture
    fill_shards,
    line,
    run,
    stub_api,
)
from tests.redis_cluster import LocalRedisCluster
from tests.tools import require_tools

pytestmark = pytest.mark.integration


async def test_redis_memory_sums_the_masters(cluster_redis: aredis.Redis) -> None:
    cluster = await cluster_of(cluster_redis)
    infos: Any = await cluster.info("memory", target_nodes=RedisCluster.PRIMARIES)
    assert len(infos) == 3
    assert await sample_redis_memory(cluster_redis)
    used = metrics.REDIS_USED_MEMORY._value.get()
    assert used > max(int(info["used_memory"]) for info in infos.values())  # three summed
    assert metrics.REDIS_MAXMEMORY._value.get() == 0  # the test nodes have no limit
    two: dict[str, dict[Any, Any]] = {
        "a": {"used_memory": 10, "maxmemory": 100},
        "b": {b"used_memory": b"20", "maxmemory": 50},
    }
    assert cluster_memory_values(two) == (30, 150)
    assert cluster_memory_values({**two, "c": {"used_memory": 1, "maxmemory": 0}}) == (31, 0)


async def test_engine_health_reads_every_stream_on_a_cluster(
    redis_cluster: LocalRedisCluster,
    cluster_redis: aredis.Redis,
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(redis_url=redis_cluster.url, redis_cluster=True)
    producer = StreamProducer(cluster_redis)
    producer.publish(settings.streams().raw, f.trade(trade_id="h1"))
    await producer.flush()
    _, body = await gather_health(cluster_redis, settings, {})
    assert body["redis"] == {"connected": True}
    assert body["streams"][settings.streams().raw.name]["length"] == 1


def test_container_healthcheck_finds_the_heartbeat_on_a_cluster(
    redis_cluster: LocalRedisCluster, settings_factory: Callable[..., Settings]
) -> None:
    settings = settings_factory(redis_url=redis_cluster.url, redis_cluster=True)
    assert not heartbeat_exists(settings)
    key = collector_key(settings.stream_prefix, "health")
    with SyncRedisCluster.from_url(redis_cluster.url) as client:
        client.hset(key, "binance", "{}")
        assert redis_cluster.node_url(client.get_node_from_key(key).port) in redis_cluster.urls
    assert heartbeat_exists(settings)


async def test_collector_writes_records_health_and_symbols_on_a_cluster(
    redis_cluster: LocalRedisCluster,
    cluster_redis: aredis.Redis,
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(
        redis_url=redis_cluster.url, redis_cluster=True, venues="binance,bybit",
        symbols="BTCUSDT,ETHUSDT", ws_reconnect_base_s=0.05, rest_poll_interval_s=1.0,
        rest_history_dir="",
    )  # fmt: skip
    config = SimulatorConfig(port=0, market=MarketConfig(symbols=("BTCUSDT", "ETHUSDT"), seed=3))
    async with start_simulator(config) as sim:
        wired = simulator_settings(settings, sim.base_url, sim.ws_base)
        stop = asyncio.Event()
        collector = Collector(wired, cluster_redis)
        task = asyncio.create_task(collector.run(stop))
        try:
            await asyncio.wait_for(_collector_wrote(cluster_redis, wired), timeout=60)
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=20)
    assert collector.producer.dropped == 0


async def _collector_wrote(redis: aredis.Redis, settings: Settings) -> None:
    prefix = settings.stream_prefix
    while True:
        raw: Any = await redis.xrange(settings.streams().raw.name)
        health: Any = await redis.hgetall(collector_key(prefix, "health"))
        symbols: Any = await redis.hgetall(collector_key(prefix, "symbols"))
        venues = {r[1][b"exchange"] for r in raw}
        if venues == {b"binance", b"bybit"} and {b"binance", b"bybit"} <= set(health):
            assert {b"BTCUSDT", b"ETHUSDT"} <= set(symbols)
            return
        await asyncio.sleep(0.25)


def test_validation_scripts_read_a_cluster(
    redis_cluster: LocalRedisCluster,
    stub_api: str,  # noqa: F811 - the fixture imported above
    stream_prefix: str,
) -> None:
    """Both validation scripts against a cluster (redis-cli -c follows the redirects): the
    sharded data of test_validation_sharded, its two shards on two nodes, passes all 16."""
    require_tools("redis-cli", "curl")
    with SyncRedisCluster.from_url(redis_cluster.url) as client:
        shards = [f"{stream_prefix}exchange.raw:{{{i}}}" for i in (0, 1)]
        assert len({client.get_node_from_key(k).name for k in shards}) == 2
        fill_shards(client, stream_prefix)
    outputs = [run(script, redis_cluster.url, stub_api, stream_prefix, "2")
               for script in ("validate_phase4m.sh", "validate_phase4m_plus.sh")]  # fmt: skip
    for out in outputs:
        assert out.startswith("rc=0") and out.count(" PASS ") == 8, out
    assert line(outputs[0], 2).endswith("PASS (length 120)")
    assert line(outputs[1], 1).endswith("PASS (type stream on 2/2 shards)")
