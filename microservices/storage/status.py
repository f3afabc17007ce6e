"""The writer's state: counted in-process, published to Redis, read back by /health.

The writer writes `<prefix>storage.health` (a JSON string with a TTL) every few seconds, so
/health of any process sharing the Redis tells the truth about a writer running elsewhere
(`cross-exchange store`). `trimmed_unread` is the pure loss computation of SPEC section 8.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

import orjson
import redis.asyncio as aredis

from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS

HEALTH_TTL_S: Final = 15
State = Literal["starting", "ok", "database_down", "disk_full"]


def health_key(prefix: str) -> str:
    return f"{prefix}storage.health"


def trimmed_unread(
    last_delivered: str, first_id: str | None, entries_added: int, length: int,
    entries_read: int | None,
) -> int:  # fmt: skip
    """Entries trimmed from a stream before the group read them (0 when none or unknown).

    When the group's last-delivered id is older than the stream's first entry, everything the
    group read has been trimmed, and so has everything in between: of the `entries_added -
    length` entries ever removed, `entries_read` were read, the rest were lost. Redis resets
    `entries_read` at the next read over the gap, so a caller counts each gap once.
    """
    if first_id is None or entries_read is None or not _older(last_delivered, first_id):
        return 0
    return max(0, entries_added - length - entries_read)


def _older(a: str, b: str) -> bool:
    ams, _, aseq = a.partition("-")
    bms, _, bseq = b.partition("-")
    return (int(ams), int(aseq or 0)) < (int(bms), int(bseq or 0))


@dataclass(slots=True)
class StoreStatus:
    """What /health's `store` block shows about a running writer."""

    state: State = "starting"
    since_ms: int = 0
    last_error: str = ""
    last_commit_ms: int = 0
    rows_inserted: dict[str, int] = field(default_factory=dict)  # table -> new rows
    entries_stored: dict[str, int] = field(default_factory=dict)  # stream -> acked after commit
    rejected: dict[str, int] = field(default_factory=dict)  # stream -> dead-lettered rows
    lost: dict[str, int] = field(default_factory=dict)  # stream -> trimmed before stored
    retention_deleted: dict[str, int] = field(default_factory=dict)

    def set_state(self, state: State, now_ms: int, error: str = "") -> bool:
        """Switch state; True when it changed (the caller logs and alerts on changes)."""
        self.last_error = error or self.last_error
        if state == self.state:
            return False
        self.state, self.since_ms = state, now_ms
        return True

    def add(self, counter: dict[str, int], key: str, count: int) -> None:
        if count:
            counter[key] = counter.get(key, 0) + count


async def publish_status(redis: aredis.Redis, prefix: str, status: StoreStatus) -> None:
    payload = orjson.dumps(asdict(status))
    await redis.set(health_key(prefix), payload, ex=HEALTH_TTL_S)


async def read_store_health(
    redis: aredis.Redis, prefix: str, configured: bool, now_ms: int
) -> dict[str, Any]:
    """The /health `store` block. Never raises on Redis faults."""
    if not configured:
        return {"configured": False, "state": "disabled",
                "reason": "no DATABASE_URL: running without storage"}  # fmt: skip
    try:
        raw = await redis.get(health_key(prefix))
    except TRANSIENT_REDIS_ERRORS:
        return {"configured": True, "state": "unknown", "reason": "redis unavailable"}
    if raw is None:
        return {"configured": True, "state": "not_running",
                "reason": f"no writer has reported for {HEALTH_TTL_S} s"}  # fmt: skip
    body: dict[str, Any] = orjson.loads(raw)
    last = int(body.pop("last_commit_ms", 0))
    body["last_commit_age_s"] = None if not last else round((now_ms - last) / 1000, 3)
    body["configured"] = True
    return body
