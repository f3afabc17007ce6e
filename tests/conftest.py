"""Shared fixtures: Redis backends (fakeredis and a real redis-server), settings, streams.

The real server is started once per session on a free loopback port with no persistence.
It is skipped only when the `redis-server` binary is missing, and never under CI=true (where
.ci/run installs it). Tests never FLUSHALL: each gets its own stream prefix.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import fakeredis
import pytest
import redis.asyncio as aredis

from microservices.common.redis_io import create_redis
from microservices.common.redis_server import LocalRedis
from microservices.common.settings import Settings, load_settings
from microservices.common.streams import Streams, build_streams
from tests.pg_fixtures import (  # noqa: F401 - PostgreSQL fixtures, registered here
    local_postgres,
    pg_server,
    pg_url,
)
from tests.redis_cluster import (  # noqa: F401 - Redis Cluster fixtures, registered here
    cluster_redis,
    redis_cluster,
)
from tests.tools import require_tools


def require_redis_server() -> None:
    require_tools("redis-server")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[LocalRedis]:
    require_redis_server()
    server = LocalRedis(prefer="redis-server")
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def local_redis() -> Iterator[Callable[..., LocalRedis]]:
    """Start private redis-servers (`local_redis(data_dir=..., appendonly=True)`); every one
    is stopped at teardown, also when its start or the test's setup failed."""
    require_redis_server()
    started: list[LocalRedis] = []

    def start(**kwargs: Any) -> LocalRedis:
        server = LocalRedis(prefer="redis-server", **kwargs)
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture
async def real_redis(redis_server: LocalRedis) -> AsyncIterator[aredis.Redis]:
    client = create_redis(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture
async def fake_redis() -> AsyncIterator[aredis.Redis]:
    client = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=False)
    yield client
    await client.aclose()


@pytest.fixture(params=["fakeredis", "redis-server"])
async def any_redis(request: pytest.FixtureRequest) -> AsyncIterator[aredis.Redis]:
    """The same contract test on fakeredis and on a real redis-server."""
    if request.param == "fakeredis":
        client: Any = fakeredis.FakeAsyncRedis(
            server=fakeredis.FakeServer(), decode_responses=False
        )
    else:
        server: LocalRedis = request.getfixturevalue("redis_server")
        client = create_redis(server.url)
    yield client
    await client.aclose()


@pytest.fixture
def stream_prefix() -> str:
    return f"test:{uuid.uuid4().hex[:10]}:"


@pytest.fixture
def streams(stream_prefix: str) -> Streams:
    return build_streams(stream_prefix)


@pytest.fixture
def settings_factory(stream_prefix: str) -> Any:
    def make(**overrides: Any) -> Settings:
        overrides.setdefault("stream_prefix", stream_prefix)
        overrides.setdefault("listing_cache_dir", "")  # never the repo's data/listings
        return load_settings(env_file=None, **overrides)

    return make
