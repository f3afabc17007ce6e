"""The collector against the exchange simulator, as the venue and book tests run it: the two
started together (`running`), polling until a condition holds (`eventually`), and readers of
what the collector wrote (raw records, book entries, whole books, the venues' book health)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import redis.asyncio as aredis

from microservices.common.book_schema import BookTop, decode_full_book
from microservices.common.records import RawRecord
from microservices.common.settings import Settings
from microservices.common.streams import collector_key
from microservices.data_collector.service import Collector
from microservices.exchange_simulator.config import SimulatorConfig
from microservices.exchange_simulator.server import SimulatorHandle, start_simulator
from microservices.runner import simulator_settings


@contextlib.asynccontextmanager
async def running(
    settings: Settings, config: SimulatorConfig, redis: aredis.Redis
) -> AsyncIterator[tuple[SimulatorHandle, Settings]]:
    """The simulator, and a collector wired to it: (simulator, the collector's settings)."""
    async with start_simulator(config) as sim:
        wired = simulator_settings(settings, sim.base_url, sim.ws_base)
        stop = asyncio.Event()
        task = asyncio.create_task(Collector(wired, redis).run(stop))
        try:
            yield sim, wired
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=20)


async def eventually(check: Callable[[], Any], timeout_s: float = 60.0) -> Any:
    """The first truthy result of `check()`, polled every 0.25 s; TimeoutError after timeout_s."""

    async def loop() -> Any:
        while not (result := await check()):
            await asyncio.sleep(0.25)
        return result

    return await asyncio.wait_for(loop(), timeout=timeout_s)


async def raw_records(redis: aredis.Redis, settings: Settings) -> list[RawRecord]:
    stream = settings.streams().raw
    rows: Any = await redis.xrange(stream.name)
    return [stream.schema.decode(fields) for _, fields in rows]


async def book_entries(redis: aredis.Redis, settings: Settings) -> list[BookTop]:
    stream = settings.streams().orderbook
    rows: Any = await redis.xrange(stream.name)
    return [stream.schema.decode(fields) for _, fields in rows]


async def full_books(redis: aredis.Redis, settings: Settings) -> dict[str, BookTop]:
    raw: Any = await redis.hgetall(collector_key(settings.stream_prefix, "books"))
    return {k.decode(): decode_full_book(v) for k, v in raw.items()}


async def book_health(redis: aredis.Redis, settings: Settings) -> dict[str, Any]:
    """venue -> its `books` block of the collector's health hash."""
    raw: Any = await redis.hgetall(collector_key(settings.stream_prefix, "health"))
    venues = {k.decode(): orjson.loads(v) for k, v in raw.items() if not k.startswith(b"_")}
    return {venue: item.get("books", {}) for venue, item in venues.items()}


async def rest_burst_survived(
    redis: aredis.Redis,
    settings: Settings,
    config: SimulatorConfig,
    host: str,
    polled: Callable[[RawRecord], bool],
) -> dict[str, Any]:
    """Run the collector against `config` (a simulator armed with a 429 burst) until the
    simulator's URL venue `host` answered 4 × 429 and a record `polled` from REST arrived;
    its REST statistics then, for the caller to assert that nothing was sent inside a
    Retry-After window and no 418 ban was earned."""
    async with running(settings, config, redis) as (sim, wired):

        async def done() -> Any:
            stats = sim.stats()["venues"].get(host, {})
            rest = [r for r in await raw_records(redis, wired) if polled(r)]
            return stats if stats.get("rest_429", 0) >= 4 and rest else None

        stats: dict[str, Any] = await eventually(done, timeout_s=60)
    return stats
