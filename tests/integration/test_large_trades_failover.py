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
from collections.abc import AsyncIterator
from typing import Any

import fakeredis
import pytest
import redis.asyncio as aredis

from microservices.ai_engine.large_trades.params import AlertParams
from microservices.ai_engine.large_trades.rebuild import Rebuilt, alert_key, fields_key
from microservices.ai_engine.large_trades.service import GROUP, LargeTradeService
from microservices.ai_engine.large_trades.shard import alert_group
from microservices.ai_engine.large_trades.watch import MarketWatch
from microservices.common.records import Funding, Liquidation, OpenInterest, RawRecord, Trade
from microservices.common.redis_io import create_redis
from microservices.common.settings import Settings
from microservices.common.shard_read import group_counters
from microservices.common.sharding import is_context, shard_of
from tests.integration.test_pipeline import publish
from tests.reliability.helpers import eventually

pytestmark = pytest.mark.integration
NOW = 1_760_000_000_000
SHARDS = 4  # BTCUSDT and USDCUSDT live in shard 3, ETHUSDT in shard 0, USDTUSD in shard 2


def trade(venue: str, group: str, n: int, price: float, size: float, quote: str = "USDT",
          symbol: str = "") -> Trade:  # fmt: skip
    spot = venue == "coinbase" or group == "USDCUSDT"
    return Trade(exchange=venue, market="spot" if spot else "perp", symbol=symbol or group,
                 venue_symbol=symbol or group, group=group, quote=quote, ts_ms=NOW + n,
                 recv_ms=NOW + n, price=price, size=size, side="buy", trade_id=f"t{n}")  # fmt: skip


def liq(venue: str, n: int, size: float, side: str = "sell") -> Liquidation:
    return Liquidation(exchange=venue, market="perp", symbol="BTCUSDT", venue_symbol="BTCUSDT",
                       group="BTCUSDT", quote="USDT", ts_ms=NOW + n, recv_ms=NOW + n,
                       price=100_000.0, size=size, side=side)  # type: ignore[arg-type]  # fmt: skip


def funding(n: int, rate: float) -> Funding:
    return Funding(exchange="bybit", market="perp", symbol="BTCUSDT", venue_symbol="BTCUSDT",
                   group="BTCUSDT", quote="USDT", ts_ms=NOW + n, recv_ms=NOW + n,
                   funding_rate=rate, funding_interval_h=8.0)  # fmt: skip


def open_interest(n: int, contracts: float) -> OpenInterest:
    return OpenInterest(exchange="binance_futures", market="perp", symbol="BTCUSDT",
                        venue_symbol="BTCUSDT", group="BTCUSDT", quote="USDT", ts_ms=NOW + n,
                        recv_ms=NOW + n, open_interest=contracts)  # fmt: skip


# A handles and acknowledges these. USDT is worth 0.999 (Coinbase USDT-USD, every shard):
# 100000 x 1.5 x 0.999 = 149850 (large); ETH 3000 x 20 x 0.999 = 59940 (large, shard 0);
# USDC 1.0002 x 50000 x 0.999 = 49959.99 (large: other bases >= 20000; once, by shard 3);
# liquidations 19980 + 29970 + 119880 (large) = 169830: a cluster of 3; funding 0.02 then
# 0.15 %/8h: a spike (cooldown 300 s from NOW + 3000); open interest 10000
ACKED: list[RawRecord] = [
    trade("coinbase", "USDTUSD", 0, 0.999, 1_000.0, quote="USD", symbol="USDTUSD"),
    trade("bybit", "BTCUSDT", 100, 100_000.0, 1.5),
    trade("binance_futures", "ETHUSDT", 200, 3_000.0, 20.0),
    trade("binance", "USDCUSDT", 300, 1.0002, 50_000.0),
    liq("binance_futures", 1_000, 0.2), liq("bybit", 2_000, 0.3, "buy"),
    funding(2_500, 0.0002), funding(3_000, 0.0015), open_interest(3_000, 10_000.0),
    liq("bybit", 4_000, 1.2),
]  # fmt: skip
# A writes these outputs (Coinbase BTC-USD 100100 x 2 = 200200; open interest +6 %, its alert's
# timestamp rounded to the second in `alerts`) but dies before acknowledging them
WRITTEN = [trade("coinbase", "BTCUSDT", 5_000, 100_100.0, 2.0, "USD", "BTCUSD"),
           open_interest(5_300, 10_600.0)]  # fmt: skip
# A reads these and dies before handling them: 119880 (large), a liquidation of 14985
READ = [trade("bybit", "BTCUSDT", 6_000, 100_000.0, 1.2), liq("bybit", 6_500, 0.15)]
# nobody read this before B came: 0.25 %/8h within the cooldown A started: no alert
UNREAD = [funding(7_000, 0.0025)]
# after B took over: two liquidations make 3 with the one above, within the cluster cooldown
# (no alert); ETH 3000 x 30 x 0.999 = 89910 (large, shard 0)
LATER = [liq("binance_futures", 8_000, 0.2, "buy"), liq("bybit", 9_000, 0.25),
         trade("binance_futures", "ETHUSDT", 9_500, 3_000.0, 30.0)]  # fmt: skip
EVERY = [*ACKED, *WRITTEN, *READ, *UNREAD, *LATER]


@pytest.fixture(params=["fakeredis", "redis-server", "cluster"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """fakeredis (it runs the lease and group scripts too), a redis-server, and a 3-master
    Redis Cluster (a shard, its lease and `alerts` on different nodes)."""
    if request.param == "cluster":
        client: Any = request.getfixturevalue("redis_cluster").client()
    elif request.param == "fakeredis":
        client = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    else:
        client = create_redis(request.getfixturevalue("redis_server").url)
    yield client
    await client.aclose()


@pytest.fixture
def settings(redis_server: Any, settings_factory: Any) -> Settings:
    return settings_factory(  # type: ignore[no-any-return]
        redis_url=redis_server.url, stream_shards=SHARDS, shard_leases=True,
        shard_lease_ttl_ms=600, liquidation_cluster_count=3, consumer_block_ms=100,
        consumer_claim_idle_ms=60_000,
    )  # fmt: skip


def single_watcher(records: list[RawRecord], settings: Settings) -> MarketWatch:
    watch = MarketWatch(AlertParams.from_settings(settings))
    for record in records:
        watch.update(record)
    return watch


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
    backend: aredis.Redis, settings: Settings
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


async def test_a_restarted_static_watcher_writes_each_output_once(
    backend: aredis.Redis, settings_factory: Any
) -> None:
    """One shard, static ownership (the default): a watcher that crashed with a batch written
    but not acknowledged and one read but not handled is restarted under the same consumer
    name; it rebuilds the shard's watch at start and writes what is missing, once."""
    settings: Settings = settings_factory(liquidation_cluster_count=3)
    streams = settings.streams()
    first = LargeTradeService(settings, backend)
    await publish(backend, streams.raw, ACKED)
    assert await first.consumer.run_until_idle() == len(ACKED)
    await publish(backend, streams.raw, WRITTEN)
    rows: Any = await backend.xreadgroup(GROUP, first.role.owner, {streams.raw.name: ">"})
    await first.handle([(i.decode(), streams.raw.schema.decode(f)) for i, f in rows[0][1]])
    await publish(backend, streams.raw, READ)
    await backend.xreadgroup(GROUP, first.role.owner, {streams.raw.name: ">"})
    await publish(backend, streams.raw, UNREAD)  # then the crash: nothing acknowledged

    again = LargeTradeService(settings, backend)
    assert again.role.owner == first.role.owner
    assert await again.rebuild(0) == Rebuilt(folded=15, trades=1, alerts=1, skipped=3)
    await publish(backend, streams.raw, LATER)
    assert await again.consumer.run_until_idle() == len(LATER)
    reference = single_watcher(EVERY, settings)
    trades, alerts = reference.take()
    rows = await backend.xrange(streams.large_trades.name)
    assert [streams.large_trades.schema.decode(f) for _, f in rows] == trades
    rows = await backend.xrange(streams.market_alerts.name)
    assert sorted(fields_key(f) for _, f in rows) == sorted(map(alert_key, alerts))
    assert again.watch.snapshot() == reference.snapshot()
    pending: Any = await backend.xpending(streams.raw.name, GROUP)
    assert pending["pending"] == 0


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


async def test_a_former_owner_writes_no_alerts(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    """A paused owner whose lease moved on (token 6, the lease now holds 7) handles a batch
    that raises a funding spike and no large trade (no fenced write to notice the loss): the
    unfenced `alerts` get nothing (the lease is read first), the shard is dropped and the
    batch stays pending for the new owner."""
    streams = settings.streams()
    service = LargeTradeService(settings, real_redis, consumer_name="large-paused")
    service.role._tokens[3] = 6  # as if its lease had been taken with token 6
    service._take_unit(3, 6)
    await real_redis.set(service.role.lease_key(3), "7 the-new-owner")
    await publish(real_redis, streams.raw, ACKED[6:8])  # 0.02 then 0.15 %/8h: a spike
    consumer = service.consumers[3]
    assert await consumer.start() == 0
    assert await consumer.step(block=False) == 0  # handled, nothing acknowledged
    assert await real_redis.xlen(streams.large_trades.shard(3).name) == 0
    assert await real_redis.exists(streams.market_alerts.name) == 0
    assert service.role.token(3) is None and 3 not in service.units
    pending: Any = await real_redis.xpending(streams.raw.shard(3).name, GROUP)
    assert pending["pending"] == 2


async def test_a_rebuild_cut_short_by_redis_is_retried_without_duplicates(
    backend: aredis.Redis, settings_factory: Any
) -> None:
    """The first rebuild's writes fail (Redis gone between the read and the write): it
    raises, its outputs stay buffered and its watch keeps what it folded; the retry folds
    only the rest, writes the buffered outputs before restarting the group, and every output
    is written once."""
    settings: Settings = settings_factory(liquidation_cluster_count=3)
    streams = settings.streams()
    await publish(backend, streams.raw, EVERY)
    service = LargeTradeService(settings, backend)
    real_write = service.producer._write
    calls = 0

    async def down_once(batch: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("Redis went away")
        await real_write(batch)

    service.producer._write = down_once  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await service.rebuild(0)
    assert await backend.xlen(streams.large_trades.name) == 0  # nothing written yet...
    assert service.units[0].applied > (0, 0)  # ...but the first page was folded
    await service.rebuild(0)
    reference = single_watcher(EVERY, settings)
    trades, alerts = reference.take()
    rows: Any = await backend.xrange(streams.large_trades.name)
    assert [streams.large_trades.schema.decode(f) for _, f in rows] == trades
    rows = await backend.xrange(streams.market_alerts.name)
    assert sorted(fields_key(f) for _, f in rows) == sorted(map(alert_key, alerts))
    assert service.watch.snapshot() == reference.snapshot()
    [group] = await backend.xinfo_groups(streams.raw.name)
    last: Any = await backend.xrevrange(streams.raw.name, count=1)
    assert (group["last-delivered-id"], group["pending"]) == (last[0][0], 0)
