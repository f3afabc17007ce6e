"""Runs the delayed, polled venues (`PolledVenue` in the registry, e.g. CME settlements)
beside the other services: each one whose enabled setting is true, through its package's
`service` module (`run(settings)`), until `stop`. A service that fails stops the others and
its error propagates (the runner's TaskGroup reports it). Each service writes its state to
the hash `<prefix>collector.polled` (field: venue, value: JSON, TTL three poll periods),
which the engine's `/health` shows under `polled_venues` (it never changes the status: the
data is delayed)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
import redis.asyncio as aredis

from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS
from microservices.common.streams import collector_key
from microservices.data_collector import exchanges

logger = logging.getLogger(__name__)


def enabled_services(settings: Any) -> dict[str, Callable[[Any], Coroutine[Any, Any, None]]]:
    """venue -> the `run` of its service module, for the enabled polled venues."""
    out: dict[str, Callable[[Any], Coroutine[Any, Any, None]]] = {}
    for venue, spec in exchanges.polled_venues().items():
        if getattr(settings, spec.enabled_setting):
            out[venue] = importlib.import_module(spec.service).run
    return out


async def run_polled_venues(settings: Any, stop: asyncio.Event) -> None:
    services = enabled_services(settings)
    if not services:
        return
    tasks: list[asyncio.Task[None]] = [
        asyncio.create_task(run(settings), name=f"polled.{venue}")
        for venue, run in services.items()
    ]
    stopper = asyncio.create_task(stop.wait())
    logger.info("polled.started", extra={"venues": ",".join(services)})
    try:
        await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (stopper, *tasks):
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task  # re-raises a service's own error
        with contextlib.suppress(asyncio.CancelledError):
            await stopper


async def write_polled_health(
    redis: aredis.Redis, prefix: str, venue: str, state: dict[str, Any], ttl_s: int
) -> None:
    key = collector_key(prefix, "polled")
    try:
        pipe = redis.pipeline(transaction=False)
        pipe.hset(key, venue, orjson.dumps(state))
        pipe.expire(key, max(ttl_s, 1))
        await pipe.execute()
    except TRANSIENT_REDIS_ERRORS:
        logger.warning("polled.health_unwritten", extra={"venue": venue})


async def read_polled_health(redis: aredis.Redis, prefix: str) -> dict[str, Any]:
    """venue -> its last written state ({} when none runs or it expired)."""
    raw: Any = await redis.hgetall(collector_key(prefix, "polled"))
    return {key.decode(): orjson.loads(value) for key, value in raw.items()}
