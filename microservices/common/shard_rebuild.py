"""Rebuilding an owned shard's state when a role takes the shard (the pieces every owning
role shares: the aggregator, the large-trade watcher, the anomaly monitor).

Delivery is at least once (SPEC section 8): after a failover the new owner's group would
deliver the dead owner's pending entries again. A role that keeps per-symbol state therefore
takes a shard in three steps:
1. `replay`: fold every entry the shard still holds, oldest first (`decoded_oldest`);
2. `restart_group`: point the shard's consumer group just after the last entry folded, with
   no pending entries (a dead owner's are folded already) and its entries-read counted, so
   the group delivers only what came after and its lag stays known;
3. `fresh_entries` in the handler: skip entries at or below the id folded last, so an entry
   delivered again (a retried batch, a claim) changes nothing.

The state then equals that of one process fed every retained entry of the shard once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from redis.exceptions import ResponseError

from microservices.common.lease_scripts import Script
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS
from microservices.common.shard_read import as_text, decoded_oldest, id_order
from microservices.common.streams import Stream

logger = logging.getLogger(__name__)
REPLAY_PAGE: Final = 2_000
RETRY_S: Final = 1.0  # between attempts at a rebuild that failed (`rebuild_until_done`)
# a rebuild that fails with these is run again: Redis down, or a group reset under way
RETRIED: Final = (*TRANSIENT_REDIS_ERRORS, ResponseError)
EntryId = tuple[int, int]
ORIGIN: Final[EntryId] = (0, 0)
MAX_SEQ: Final = 2**64 - 1  # the largest sequence part of an entry id
Handler = Callable[[list[tuple[str, Any]]], Awaitable[None]]

__all__ = [
    "ORIGIN",
    "REPLAY_PAGE",
    "RESTART_GROUP",
    "RESTART_GROUP_SCRIPT",
    "EntryId",
    "acknowledged_upto",
    "entry_text",
    "fresh_entries",
    "rebuild_until_done",
    "replay",
    "restart_group",
]


def fresh_entries(batch: list[tuple[str, Any]], after: EntryId) -> list[tuple[str, Any]]:
    """The entries of an id-ordered batch newer than `after` (all of them, the usual case,
    costs two id parses)."""
    if not batch or id_order(batch[0][0]) > after:
        return batch
    return [entry for entry in batch if id_order(entry[0]) > after]


def entry_text(entry_id: EntryId) -> str:
    """(1700000000000, 3) -> `1700000000000-3`."""
    return f"{entry_id[0]}-{entry_id[1]}"


async def replay(redis: Any, stream: Stream[Any], handler: Handler, page: int = REPLAY_PAGE) -> int:
    """Hand every entry of one shard to `handler`, oldest first, a page at a time (entries
    that fail to decode are left out); the entries handed over."""
    handed = 0
    async for batch in decoded_oldest(redis, stream, page):
        await handler(batch)
        handed += len(batch)
    return handed


async def rebuild_until_done(
    rebuild: Callable[[], Awaitable[object]],
    stop: asyncio.Event,
    event: str,
    shard: int,
    errors: tuple[type[BaseException], ...] = RETRIED,
) -> None:
    """Run a shard's `rebuild` until it succeeds or `stop` is set: one that fails with
    `errors` (Redis down, or a former owner still resetting the shard's group) is logged as
    `event` and run again RETRY_S later. Any other error propagates."""
    while not stop.is_set():
        try:
            await rebuild()
            return
        except errors as exc:
            logger.warning(event, extra={"shard": shard, "error": repr(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=RETRY_S)


async def restart_group(
    redis: Any, stream: Stream[Any], last: EntryId, group: str | None = None
) -> None:
    """Recreate the consumer group `group` (default: the stream's own) of one shard at `last`:
    no pending entries, entries-read counted. One script: nothing is added to the stream, and
    no other process recreates the group, between the count and the reset."""
    name = group or stream.group or ""
    await RESTART_GROUP_SCRIPT(redis, [stream.name], [name, entry_text(last)])


async def acknowledged_upto(redis: Any, stream: Stream[Any], group: str) -> EntryId:
    """The id up to which `group` has acknowledged every entry of one shard: the group's last
    delivered id, or just below its oldest pending entry. A role that acknowledges a batch
    only after writing its outputs has written the outputs of every entry at or below it;
    ORIGIN when the group does not exist (nothing was delivered)."""
    # the last delivered id before the pending entries: an entry delivered in between is
    # newer than that id, so it counts as not acknowledged (no MULTI: a cluster client's
    # pipeline is not transactional)
    pipe = redis.pipeline(transaction=False)
    pipe.xinfo_groups(stream.name)
    pipe.xpending(stream.name, group)
    infos, pending = await pipe.execute(raise_on_error=False)
    if isinstance(infos, Exception):
        return ORIGIN  # no stream yet
    last = next((i["last-delivered-id"] for i in infos if as_text(i["name"]) == group), None)
    if last is None or isinstance(pending, Exception):
        return ORIGIN
    upto = id_order(last)
    if pending and pending.get("pending"):
        ms, seq = id_order(pending["min"])
        upto = min(upto, (ms, seq - 1) if seq > 0 else (ms - 1, MAX_SEQ))
    return upto


# KEYS: stream. ARGV: group, last folded id. The group recreated at that id, with ENTRIESREAD =
# entries ever added minus the entries after it (MKSTREAM when there is no stream yet).
RESTART_GROUP: Final = """
local key, group, last = KEYS[1], ARGV[1], ARGV[2]
if redis.call('EXISTS', key) == 0 then
  return redis.call('XGROUP', 'CREATE', key, group, last, 'MKSTREAM')
end
redis.call('XGROUP', 'DESTROY', key, group)
local info, added = redis.call('XINFO', 'STREAM', key), 0
for i = 1, #info, 2 do
  if info[i] == 'entries-added' then added = info[i + 1] end
end
local newer = #redis.call('XRANGE', key, '(' .. last, '+')
return redis.call('XGROUP', 'CREATE', key, group, last, 'ENTRIESREAD', math.max(0, added - newer))
"""
RESTART_GROUP_SCRIPT: Final = Script(RESTART_GROUP)
