"""Redis killed (SIGKILL) and restarted mid-stream under the collector and the aggregator,
both running as processes, with the simulator feeding all four venues.

redis-server persists with AOF (`appendfsync always`), so what it acknowledged survives the
crash. While it is down the collector keeps parsing into its bounded buffer
(PRODUCER_BUFFER_SIZE, oldest dropped and counted), and delivers the rest once Redis is
back; the aggregator's consumer group resumes from its position. Accounting, from the
collector's final `collector.stopped` log line: records in exchange.raw + dropped ==
produced, except for at most one re-sent batch (delivery is at least once).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from microservices.common.redis_io import create_redis
from microservices.common.redis_server import LocalRedis
from microservices.common.streams import build_streams
from microservices.exchange_simulator.config import MarketConfig, SimulatorConfig
from microservices.exchange_simulator.server import SimulatorHandle, start_simulator
from tests.reliability.helpers import (
    SIM_VENUES,
    ServiceProcess,
    Services,
    eventually,
    group_info,
    log_time,
    measure,
    service_env,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
BUFFER = 300
BATCH = 100
PREFIX = "outage:"


def data_frames(sim: SimulatorHandle) -> int:
    return int(sim.stats()["totals"].get("data_frames_sent", 0))


async def wait_for_event(service: ServiceProcess, name: str, after: int = 0) -> dict[str, Any]:
    async def seen() -> dict[str, Any] | None:
        found = service.events(name)
        return found[after] if len(found) > after else None

    event: dict[str, Any] = await eventually(seen, 30, f"{name} in the {service.command} log")
    return event


async def test_redis_crash_under_load_loses_nothing_beyond_the_bounded_buffer(
    tmp_path: Path, services: Services, local_redis: Callable[..., LocalRedis]
) -> None:
    server = local_redis(data_dir=tmp_path / "redis", appendonly=True)
    streams = build_streams(PREFIX)
    redis = create_redis(server.url, socket_timeout_s=2.0)
    try:
        config = SimulatorConfig(port=0, market=MarketConfig(symbols=SYMBOLS, seed=5, rate=20.0))
        async with start_simulator(config) as sim:
            common = {
                "venues": SIM_VENUES,
                "symbols": SYMBOLS,
                "maxlen_raw": 1_000_000,
                "redis_socket_timeout_s": 2.0,
            }
            collector = services.start(
                "collector",
                service_env(
                    server.url,
                    PREFIX,
                    sim_base=sim.base_url,
                    producer_buffer_size=BUFFER,
                    producer_batch_size=BATCH,
                    rest_poll_interval_s=0.5,
                    **common,
                ),
            )
            aggregator = services.start("aggregator", service_env(server.url, PREFIX, **common))

            async def flowing() -> bool:
                return (
                    int(await redis.xlen(streams.normalized.name)) > 0
                    and int(await redis.xlen(streams.raw.name)) > 500
                )

            await eventually(flowing, 40, "raw and normalized entries before the crash")
            before = int(await redis.xlen(streams.raw.name))
            frames_at_kill = data_frames(sim)
            server.kill()
            await wait_for_event(collector, "producer.redis_unavailable")
            await wait_for_event(aggregator, "consumer.redis_unavailable")

            async def overflowed() -> bool:  # enough frames to overflow the buffer twice over
                return data_frames(sim) - frames_at_kill > 3 * BUFFER

            await eventually(overflowed, 30, "frames to overflow the producer buffer")
            server.start()
            restarted = time.time()
            await redis.aclose()  # its connections died with the server
            redis = create_redis(server.url, socket_timeout_s=2.0)
            reconnected = await wait_for_event(collector, "producer.reconnected")
            await wait_for_event(aggregator, "consumer.reconnected")

            async def grew() -> bool:
                return int(await redis.xlen(streams.raw.name)) > before + 3 * BUFFER

            await eventually(grew, 30, "records after the restart")
            assert await collector.terminate() == 0
        [stopped] = collector.events("collector.stopped")

        async def caught_up() -> dict[str, Any] | None:
            info = await group_info(redis, streams.raw.name, "aggregator")
            return info if info["pending"] == 0 and info["lag"] == 0 else None

        group = await eventually(caught_up, 30, "the aggregator to catch up")
        assert aggregator.stop() == 0
        raw_length = int(await redis.xlen(streams.raw.name))
        # every stream the collector writes: raw records and exchange.orderbook entries
        length = raw_length + int(await redis.xlen(streams.orderbook.name))
        last_id = (await redis.xrevrange(streams.raw.name, count=1))[0][0].decode()
        normalized_after = await redis.xrange(
            streams.normalized.name, min=f"{int(restarted * 1000)}-0"
        )
    finally:
        await redis.aclose()
        server.stop()

    assert stopped["buffered"] == 0 and stopped["dropped"] > 0  # the bound was exercised
    resent = length + stopped["dropped"] - stopped["produced"]
    assert 0 <= resent <= BATCH, (length, stopped)  # nothing lost; at most one batch twice
    assert group["entries-read"] == raw_length and group["last-delivered-id"] == last_id
    assert normalized_after, "the aggregator kept publishing after the restart"
    measure(
        "Redis crash",
        f"SIGKILL of redis-server under load, {stopped['produced']} records produced",
        f"0 beyond the buffer bound ({stopped['dropped']} oldest dropped and "
        f"counted, buffer {BUFFER})",
        log_time(reconnected) - restarted,
        "test_redis_restart",
        resent=resent,
    )
