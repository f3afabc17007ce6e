"""The Redis memory gauges: parsed from INFO memory, set from a real redis-server."""

from __future__ import annotations

import redis.asyncio as aredis

from microservices.common import metrics
from microservices.common.redis_memory import memory_values, sample_redis_memory


def test_memory_values_reads_used_and_max() -> None:
    assert memory_values({"used_memory": 1_234_567, "maxmemory": 536_870_912}) == (
        1_234_567,
        536_870_912,
    )
    assert memory_values({b"used_memory": b"2048", b"maxmemory": b"0"}) == (2048, 0)
    assert memory_values({"used_memory": 10}) == (10, 0)  # no maxmemory field: no limit


def test_memory_values_refuses_missing_or_bad_fields() -> None:
    assert memory_values({}) is None
    assert memory_values({"used_memory": "lots", "maxmemory": 0}) is None
    assert memory_values({"used_memory": -5, "maxmemory": 0}) is None
    assert memory_values({"used_memory": True, "maxmemory": 0}) is None


async def test_sample_sets_the_gauges_from_a_real_server(real_redis: aredis.Redis) -> None:
    await real_redis.config_set("maxmemory", 64 * 1024 * 1024)
    try:
        assert await sample_redis_memory(real_redis) is True
        info = await real_redis.info("memory")
        used = metrics.REDIS_USED_MEMORY._value.get()
        assert 0 < used <= int(info["used_memory"]) * 2
        assert metrics.REDIS_MAXMEMORY._value.get() == 64 * 1024 * 1024
    finally:
        await real_redis.config_set("maxmemory", 0)


async def test_sample_survives_an_unreachable_redis() -> None:
    client = aredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
    try:
        assert await sample_redis_memory(client) is False
    finally:
        await client.aclose()


async def test_sample_survives_a_server_that_refuses_info() -> None:
    """fakeredis has no INFO, like a managed Redis that renamed it: the gauges stay as they
    were and /metrics still answers."""
    import fakeredis

    from microservices.common import metrics

    metrics.REDIS_USED_MEMORY.set(123)
    assert await sample_redis_memory(fakeredis.FakeAsyncRedis()) is False
    assert metrics.REDIS_USED_MEMORY._value.get() == 123
