"""The large-trade watcher on 4 leased shards survives its owner's death with every output
written once (issue 19, SPEC section 8).

Owner A handles part of shard 3's entries (large trades, a liquidation cluster, a funding
spike), then a batch whose outputs it writes but never acknowledges, then reads a batch it
never handles, and dies (its leases expire). Owner B takes every shard, rebuilds each
shard's watch from the shard's entries, publishes only the outputs A did not write, and
handles what comes after. exchange.large_trades:{i} and `alerts` then hold exactly what one
watcher fed every entry once produces (same ids, same fields, same count), and B's watch of
shard 3 equals that of one watcher fed the shard's entries: a funding spike and a cluster
within the cooldown A started raise nothing."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
import redis.asyncio as aredis

from microservices.ai_engine.large_trades.rebuild import Rebuilt, alert_key, fields_key
from microservices.ai_engine.large_trades.service import GROUP, LargeTradeService
from microservices.ai_engine.large_trades.shard import alert_group
from microservices.common.settings import Settings
from microservices.common.shard_read import group_counters
from microservices.common.sharding import is_context, shard_of
from tests.integration.large_trades_feed import (  # noqa: F401 - backend: a fixture
    ACKED,
    EVERY,
    LATER,
    NOW,
    READ,
    SHARDS,
    UNREAD,
    WRITTEN,
    backend,
    single_watcher,
)
from tests.integration.test_pipeline import publish
from tests.reliability.helpers import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(redis_server: Any, settings_factory: Any) -> Settings:
    return settings_factory(  # type: ignore[no-any-return]
        redis_url=redis_server.url, stream_shards=SHARDS, shard_leases=True,
        shard_lease_ttl_ms=600, liquidation_cluster_count=3, consumer_block_ms=100,
        consumer_claim_idle_ms=60_000,
    )  # fmt: skip


async def publish_atomically(redis: aredis.Redis, settings: Settings, records: list[Any]) -> None:
    """One MULTI: a blocked reader gets every entry in one batch."""
    raw = settings.streams().raw
    pipe = redis.pipeline(transaction=True)
    for record in records:
        for name in raw.route(record):
            fields: Any = raw.schema.encode(record)
            pipe.xadd(name, fields)
    await pipe.execute()


async def settled(redis: aredis.Redis, settings: Settings) -> bool:
    groups = await group_counters(redis, settings.streams().raw)
    info = groups.get(GROUP)
    return info is not None and info["lag"] == 0 and info["pending"] == 0


async def kill(service: LargeTradeService, task: asyncio.Task[None]) -> None:
    """Die without releasing the leases (they expire) or flushing anything."""
    assert service.role.leases is not None

    async def nothing() -> set[int]:
        return set()

    service.role.leases.release_all = nothing  # type: ignore[method-assign]
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)


async def test_failover_leaves_every_output_once_and_the_state_of_one_pass(
    backend: aredis.Redis,  # noqa: F811 - the fixture imported above
    settings: Settings,
) -> None:
    streams = settings.streams()
    a = LargeTradeService(settings, backend, consumer_name="large-a")
    a_stop = asyncio.Event()
    a_task = asyncio.create_task(a.run(a_stop))
    try:
        await _run_a(backend, settings, a)
    finally:
        await kill(a, a_task)
    await publish(backend, streams.raw, UNREAD)

    b = LargeTradeService(settings, backend, consumer_name="large-b")
    b_stop = asyncio.Event()
    b_task = asyncio.create_task(b.run(b_stop))
    try:
        await eventually(lambda: _rebuilt(b, 4), 20, "B owning and rebuilding the four shards")
        await publish(backend, streams.raw, LATER)
        await eventually(lambda: settled(backend, settings), 20, "B acknowledging the rest")
        state = b.units[3].watch.snapshot()
    finally:
        b_stop.set()
        await asyncio.wait_for(b_task, 10)

    # B's rebuild of shard 3 found A's written outputs (the trade, its alert, OI_CHANGE) and
    # published only those of the batch A read but never handled (a trade and its alert)
    assert b.rebuilt[3] == Rebuilt(folded=14, trades=1, alerts=1, skipped=3)
    assert b.rebuilt[0] == Rebuilt(folded=3, trades=0, alerts=0, skipped=0)
    reference = single_watcher(EVERY, settings)
    trades, alerts = reference.take()
    await _assert_outputs(backend, settings, trades, alerts)
    shard_records = [r for r in EVERY if is_context(r) or shard_of(r.group, SHARDS) == 3]
    assert state == single_watcher(shard_records, settings).snapshot()


async def _run_a(redis: aredis.Redis, settings: Settings, a: LargeTradeService) -> None:
    """A handles ACKED, writes WRITTEN's outputs without acknowledging, reads READ."""
    streams = settings.streams()
    await eventually(lambda: _owns(a, 4), 20, "A owning the four shards")
    await publish(redis, streams.raw, ACKED)
    await eventually(lambda: settled(redis, settings), 20, "A acknowledging its entries")
    assert await redis.xlen(streams.large_trades.shard(3).name) == 3

    hung = asyncio.Event()

    async def die_before_ack(*_: Any) -> None:
        hung.set()
        await asyncio.Event().wait()

    a.consumers[3]._acknowledge = die_before_ack  # type: ignore[method-assign,assignment]
    await publish_atomically(redis, settings, WRITTEN)
    await asyncio.wait_for(hung.wait(), 10)  # written, not acknowledged
    assert await redis.xlen(streams.large_trades.shard(3).name) == 4
    await publish_atomically(redis, settings, READ)
    shard3 = streams.raw.shard(3).name
    read: Any = await redis.xreadgroup(GROUP, a.role.owner, {shard3: ">"})
    assert len(read[0][1]) == 2  # read by A, never handled


async def _owns(service: LargeTradeService, count: int) -> bool:
    return len(service.units) == count


async def _rebuilt(service: LargeTradeService, count: int) -> bool:
    return len(service.rebuilt) == count


async def _assert_outputs(
    redis: aredis.Redis, settings: Settings, trades: list[Any], alerts: list[Any]
) -> None:
    streams = settings.streams()
    values = {t.row_id: round(t.value_usd, 2) for t in trades}
    assert values == {
        "bybit_BTCUSDT_t100": 149_850.0,
        "binance_futures_ETHUSDT_t200": 59_940.0,
        "binance_USDCUSDT_t300": 49_959.99,
        f"bybit_BTCUSDT_liq-{NOW + 4000}-sell-100000.0-1.2": 119_880.0,
        "coinbase_BTCUSD_t5000": 200_200.0,
        "bybit_BTCUSDT_t6000": 119_880.0,
        "binance_futures_ETHUSDT_t9500": 89_910.0,
    }
    for shard in range(SHARDS):
        rows: Any = await redis.xrange(streams.large_trades.shard(shard).name)
        written = [streams.large_trades.schema.decode(f) for _, f in rows]
        assert written == [t for t in trades if shard_of(t.group, SHARDS) == shard], shard
    rows = await redis.xrange(streams.market_alerts.name)
    assert sorted(fields_key(f) for _, f in rows) == sorted(map(alert_key, alerts))
    schema = streams.market_alerts.schema
    written_alerts = [schema.decode(f) for _, f in rows]
    alerts = [schema.decode(schema.encode(a)) for a in alerts]  # timestamps: whole seconds
    assert [(a.type, a.symbol) for a in alerts if a.type != "LARGE_TRADE"] == [
        ("FUNDING_SPIKE", "BTCUSDT"), ("LIQUIDATION_CLUSTER", "BTCUSDT"),
        ("OI_CHANGE", "BTCUSDT"),
    ]  # fmt: skip
    cluster = next(a for a in alerts if a.type == "LIQUIDATION_CLUSTER")
    assert cluster.data["total_usd"] == 169_830.0
    for shard in range(SHARDS):  # each shard's alerts in entry order, every field equal
        mine = [a for a in written_alerts if shard_of(alert_group(a), SHARDS) == shard]
        assert mine == [a for a in alerts if shard_of(alert_group(a), SHARDS) == shard], shard
