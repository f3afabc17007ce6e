"""The writer's state: counted in-process, published to Redis, read back by /health.

The writer writes `<prefix>storage.health` (a JSON string with a TTL) every few seconds, so
/health of any process sharing the Redis tells the truth about a writer running elsewhere
(`cross-exchange store`). `loss_update` is the pure loss computation of SPEC section 8.
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


def lost_key(prefix: str) -> str:
    """Hash: stream -> trimmed-unread entries already counted (the `loss_update` baseline),
    so a restarted writer does not count an old gap again."""
    return f"{prefix}storage.lost"


def loss_update(
    baseline: int, last_delivered: str, first_id: str | None, last_id: str, entries_added: int,
    length: int, entries_read: int | None,
) -> tuple[int, int]:  # fmt: skip
    """(entries newly lost, new baseline): entries trimmed before the group read them.

    `entries_added - entries_read` counts the entries the group never read: those still in the
    stream after its position plus those trimmed unread, which stay counted there after the
    group reads past the gap (Redis increments `entries_read` per delivered entry). That total
    is known when nothing unread remains (the group read the last entry) and when the group's
    position is older than the first entry (the whole stream is unread); `baseline` is the
    total already counted, so only its growth is a new loss. A total that shrinks (Redis
    re-estimated the counter after XDEL) becomes the new baseline.
    """
    if entries_read is None:
        return 0, baseline
    never_read = entries_added - entries_read
    if last_delivered == last_id:
        trimmed = never_read
    elif first_id is not None and _older(last_delivered, first_id):
        trimmed = never_read - length
    else:
        return 0, baseline
    if trimmed < baseline:
        return 0, max(trimmed, 0)
    return trimmed - baseline, trimmed


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
    spilled_rows: int = 0  # rows written to the local spill queue during outages, in total
    spill_files: int = 0  # spill files waiting for the database

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
