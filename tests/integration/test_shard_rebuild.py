"""common/shard_rebuild on fakeredis and a real redis-server: `replay` hands over a shard's
entries oldest first, `restart_group` points the group after the last one folded (no pending
entries, lag counted), `fresh_entries` skips what was folded already."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aredis

from microservices.common.records import Trade
from microservices.common.shard_read import id_order
from microservices.common.shard_rebuild import (
    MAX_SEQ,
    ORIGIN,
    acknowledged_upto,
    fresh_entries,
    replay,
    restart_group,
)
from microservices.common.streams import Streams
from tests.integration.test_pipeline import publish

pytestmark = pytest.mark.integration
NOW = 1_760_000_000_000


def trade(n: int) -> Trade:
    return Trade(exchange="bybit", market="perp", symbol="BTCUSDT", venue_symbol="BTCUSDT",
                 group="BTCUSDT", quote="USDT", ts_ms=NOW + n, recv_ms=NOW + n,
                 price=100_000.0 + n, size=0.1, side="buy", trade_id=f"t-{n}")  # fmt: skip


def test_fresh_entries_skips_up_to_the_watermark() -> None:
    batch: list[tuple[str, Any]] = [("5-0", "a"), ("5-1", "b"), ("6-0", "c")]
    assert fresh_entries(batch, ORIGIN) is batch
    assert fresh_entries(batch, (5, 0)) == [("5-1", "b"), ("6-0", "c")]
    assert fresh_entries(batch, (6, 0)) == []
    assert fresh_entries([], (6, 0)) == []


async def test_replay_then_restart_group(any_redis: aredis.Redis, streams: Streams) -> None:
    raw = streams.raw
    await publish(any_redis, raw, [trade(n) for n in range(7)])
    await any_redis.xgroup_create(raw.name, raw.group or "", "0")
    # a dead owner read 4 entries and acknowledged none
    await any_redis.xreadgroup(raw.group or "", "dead", {raw.name: ">"}, count=4)
    seen: list[tuple[str, Any]] = []

    async def handler(batch: list[tuple[str, Any]]) -> None:
        seen.extend(batch)

    assert await replay(any_redis, raw, handler, page=3) == 7
    assert [r.trade_id for _, r in seen] == [f"t-{n}" for n in range(7)]
    await restart_group(any_redis, raw, id_order(seen[4][0]))  # folded up to the 5th entry
    [group] = await any_redis.xinfo_groups(raw.name)
    assert group["pending"] == 0
    assert group["last-delivered-id"] == seen[4][0].encode()
    assert group["lag"] == 2
    rows: Any = await any_redis.xreadgroup(raw.group or "", "new", {raw.name: ">"})
    assert [i.decode() for i, _ in rows[0][1]] == [seen[5][0], seen[6][0]]


async def test_restart_group_creates_a_missing_stream(
    any_redis: aredis.Redis, streams: Streams
) -> None:
    raw = streams.raw
    await restart_group(any_redis, raw, ORIGIN)
    [group] = await any_redis.xinfo_groups(raw.name)
    assert (group["pending"], group["last-delivered-id"]) == (0, b"0-0")


async def test_acknowledged_upto(any_redis: aredis.Redis, streams: Streams) -> None:
    raw = streams.raw
    assert await acknowledged_upto(any_redis, raw, "large_trades") == ORIGIN  # no stream
    await publish(any_redis, raw, [trade(n) for n in range(5)])
    entries: Any = await any_redis.xrange(raw.name)
    ids = [id_order(i) for i, _ in entries]
    assert await acknowledged_upto(any_redis, raw, "large_trades") == ORIGIN  # no group
    await any_redis.xgroup_create(raw.name, "large_trades", "0")
    assert await acknowledged_upto(any_redis, raw, "large_trades") == ORIGIN  # none read
    rows: Any = await any_redis.xreadgroup("large_trades", "a", {raw.name: ">"}, count=4)
    read = [i for i, _ in rows[0][1]]
    await any_redis.xack(raw.name, "large_trades", *read[:2])
    ms, seq = ids[2]  # the oldest pending entry: everything below it was acknowledged
    below = (ms, seq - 1) if seq else (ms - 1, MAX_SEQ)
    assert await acknowledged_upto(any_redis, raw, "large_trades") == below
    await any_redis.xack(raw.name, "large_trades", *read[2:])
    assert await acknowledged_upto(any_redis, raw, "large_trades") == ids[3]
    await restart_group(any_redis, raw, ids[4], group="large_trades")  # a role's own group
    assert await acknowledged_upto(any_redis, raw, "large_trades") == ids[4]
    assert [g["name"] for g in await any_redis.xinfo_groups(raw.name)] == [b"large_trades"]
