"""/health's store block, read back from Redis as any engine process would."""

from __future__ import annotations

import pytest
import redis.asyncio as aredis

from microservices.storage.status import StoreStatus, publish_status, read_store_health

pytestmark = pytest.mark.integration


async def test_store_block_states(real_redis: aredis.Redis, stream_prefix: str) -> None:
    assert await read_store_health(real_redis, stream_prefix, False, 0) == {
        "configured": False, "state": "disabled",
        "reason": "no DATABASE_URL: running without storage",
    }  # fmt: skip
    assert await read_store_health(real_redis, stream_prefix, True, 0) == {
        "configured": True, "state": "not_running",
        "reason": "no writer has reported for 15 s",
    }  # fmt: skip
    status = StoreStatus(state="database_down", since_ms=1_000, last_error="OSError: refused",
                         last_commit_ms=2_000)  # fmt: skip
    status.add(status.lost, "s", 3)
    await publish_status(real_redis, stream_prefix, status)
    block = await read_store_health(real_redis, stream_prefix, True, 12_500)
    assert block["state"] == "database_down" and block["last_error"] == "OSError: refused"
    assert block["last_commit_age_s"] == 10.5 and block["lost"] == {"s": 3}
    assert 0 < await real_redis.ttl(f"{stream_prefix}storage.health") <= 15
