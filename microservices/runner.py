"""`cross-exchange run`: every service in one process, with an embedded Redis by default.

Without REDIS_URL it starts a loopback Redis (a real `redis-server` when installed, else
fakeredis's TCP server) and prints `embedded redis listening on 127.0.0.1:PORT`. Without
DATABASE_URL it starts a private PostgreSQL in PG_DATA_DIR (`embedded postgres listening on
...`; database `ce`, `ce_demo` with --demo) and the engine's writer stores into it. With
`--demo` it also starts the exchange simulator and points every venue at it: fully offline,
with the simulated history written to DEMO_HISTORY_DIR instead of REST_HISTORY_DIR.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator

from microservices.ai_engine.engine import Engine
from microservices.common.lifecycle import run_until_stopped
from microservices.common.redis_io import create_redis
from microservices.common.redis_server import LocalRedis
from microservices.common.settings import Settings
from microservices.data_collector import exchanges
from microservices.data_collector.polled import run_polled_venues
from microservices.data_collector.service import Collector
from microservices.storage.embedded import start_private_postgres
from microservices.view import TerminalView

logger = logging.getLogger(__name__)


def simulator_settings(settings: Settings, http_base: str, ws_base: str) -> Settings:
    """Point every registered venue with a simulator dialect at the simulator (one server, a
    path prefix per URL venue, and per polled venue); simulated listings never go into the
    listing cache."""
    urls = settings.endpoints | exchanges.simulator_endpoints(http_base, ws_base)
    update: dict[str, object] = {"endpoints": urls, "listing_cache_dir": ""}
    polled = exchanges.polled_venues()
    for venue in exchanges.polled_simulators():
        if polled[venue].url_setting:
            update[polled[venue].url_setting] = f"{http_base}/{venue}"
    return settings.model_copy(update=update)


def announce(line: str) -> None:
    print(line, flush=True)


@contextlib.asynccontextmanager
async def demo_simulator(settings: Settings) -> AsyncIterator[Settings]:
    from microservices.exchange_simulator.config import SimulatorConfig
    from microservices.exchange_simulator.server import start_simulator

    config = SimulatorConfig(host="127.0.0.1", port=0)
    async with start_simulator(config) as sim:
        announce(f"exchange simulator listening on {sim.base_url}")
        demo = simulator_settings(settings, sim.base_url, sim.ws_base)
        update: dict[str, object] = {"rest_history_dir": settings.demo_history_dir}
        if "venues" not in settings.model_fields_set:  # VENUES unset: show every venue
            update["venues"] = list(exchanges.venue_ids())
        # simulated bars never go into the live history files
        yield demo.model_copy(update=update)


async def run_all_main(
    settings: Settings, stop: asyncio.Event, demo: bool, view: bool, duration_s: float | None
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        if demo:
            settings = await stack.enter_async_context(demo_simulator(settings))
        assert settings.redis_url is not None
        redis = create_redis(
            settings.redis_url,
            socket_timeout_s=settings.redis_socket_timeout_s,
            cluster=settings.redis_cluster,
        )
        stack.push_async_callback(redis.aclose)
        collector = Collector(settings, redis)
        await collector.prepare()  # an unknown symbol stops here, before anything runs
        engine = Engine(settings, redis)
        announce(
            f"API listening on http://{settings.api_host}:{settings.api_port} (/health, /docs)"
        )
        async with asyncio.TaskGroup() as group:
            group.create_task(collector.run(stop), name="collector")
            group.create_task(engine.run(stop), name="engine")
            group.create_task(run_polled_venues(settings, stop), name="polled")  # CME, ...
            if view:
                group.create_task(TerminalView(settings, redis, collector, engine).run(stop))
            if duration_s is not None:
                group.create_task(_stop_after(stop, duration_s))


async def _stop_after(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    stop.set()


def run_all(settings: Settings, demo: bool, view: bool, duration_s: float | None) -> int:
    embedded: LocalRedis | None = None
    if settings.redis_url is None:
        embedded = LocalRedis().start()
        announce(f"embedded redis listening on 127.0.0.1:{embedded.port} ({embedded.kind})")
        newest = settings.streams().normalized.names()[0]  # shard 0 when STREAM_SHARDS > 1
        announce(f"  inspect: redis-cli -p {embedded.port} XREVRANGE '{newest}' + - COUNT 1")
        settings = settings.model_copy(update={"redis_url": embedded.url})
    private_pg = start_private_postgres(settings, demo, announce)
    if private_pg is not None:
        settings = settings.model_copy(update={"database_url": private_pg.url})
    show_view = view and sys.stdout.isatty()
    try:
        run_until_stopped(lambda stop: run_all_main(settings, stop, demo, show_view, duration_s))
    finally:
        if private_pg is not None:
            private_pg.stop()
        if embedded is not None:
            embedded.stop()
    return 0
