"""The Redis client: asyncio retry object (redis-py 8 warns on a synchronous one)."""

from __future__ import annotations

import warnings

from redis.asyncio.retry import Retry

from microservices.common.redis_io import create_redis


async def test_client_gets_an_asyncio_retry_and_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client = create_redis("redis://127.0.0.1:1/0", socket_timeout_s=2.0)
    try:
        retry = client.get_retry()
        assert isinstance(retry, Retry)
        assert retry.get_retries() == 0  # our loops retry with backoff; redis-py must not
    finally:
        await client.aclose()
