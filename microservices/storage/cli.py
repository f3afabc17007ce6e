"""`cross-exchange store`: the PostgreSQL writer as its own process."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from microservices.common.errors import FatalError
from microservices.common.lifecycle import run_until_stopped
from microservices.common.settings import Settings


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    store = sub.add_parser(
        "store",
        help="write the streams to PostgreSQL (DATABASE_URL), consumer group storage",
        description="Consumer group `storage` on exchange.raw (funding, open interest, closed "
        "klines), exchange.normalized, exchange.features, exitbrain.status, exitbrain.alerts "
        "and exchange.large_trades, plus order-book snapshots; entries are acknowledged only "
        "after their rows commit. Applies the migrations at start.",
    )
    store.add_argument(
        "--consumer", default="store-1",
        help="consumer name in the group; a restarted writer with the same name re-handles "
        "its pending entries at once (others take them over after STORE_CLAIM_IDLE_MS)",
    )  # fmt: skip
    store.set_defaults(func=_cmd_store)


def _cmd_store(ns: argparse.Namespace, settings: Settings) -> int:
    if settings.redis_url is None:
        raise FatalError("REDIS_URL is required for `store` (`run` embeds a Redis)")
    if settings.database_url is None:
        raise FatalError("DATABASE_URL is required for `store` (`run` starts a private PostgreSQL)")
    run_until_stopped(lambda stop: store_main(settings, stop, ns.consumer))
    return 0


async def store_main(settings: Settings, stop: asyncio.Event, consumer: str) -> None:
    from microservices.common.redis_io import create_redis
    from microservices.storage.service import StoreService

    assert settings.redis_url is not None and settings.database_url is not None
    redis = create_redis(
        settings.redis_url,
        socket_timeout_s=settings.redis_socket_timeout_s,
        cluster=settings.redis_cluster,
    )
    try:
        await StoreService(settings, redis, settings.database_url, consumer).run(stop)
    finally:
        await redis.aclose()
