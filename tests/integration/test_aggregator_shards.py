"""The aggregator on 4 shards, on a real redis-server: two aggregators split the shards
statically, each symbol's snapshots land in its home shard, the stablecoin context reaches
every shard but only shard 0's owner raises DEPEG; a new owner rebuilds a shard's state equal
to one aggregator fed every entry once, and a re-delivered batch changes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import orjson
import pytest
import redis.asyncio as aredis

from microservices.ai_engine.aggregator_service import AggregatorService
from microservices.ai_engine.aggregator_shards import new_state
from microservices.common.clock import now_ms
from microservices.common.lease_scripts import Fenced
from microservices.common.producer import StreamProducer
from microservices.common.records import Ticker, Trade
from microservices.common.settings import Settings
from microservices.common.shard_lease import lease_key
from microservices.common.sharding import shard_of
from microservices.common.streams import collector_key
from tests.integration.test_pipeline import publish
from tests.reliability.helpers import eventually

pytestmark = pytest.mark.integration
NOW = 1_760_000_000_000
VENUES = ("binance_futures", "bybit", "coinbase")
# home shards of 4: ETHUSDT 0, ADAUSDT 1, BNBUSDT 2, BTCUSDT 3
PRICES = {"ETHUSDT": 3_000.0, "ADAUSDT": 0.5, "BNBUSDT": 600.0, "BTCUSDT": 100_000.0}


def quote(venue: str, group: str, price: float, n: int) -> Ticker:
    market = "perp" if venue != "coinbase" else "spot"
    return Ticker(exchange=venue, market=market, symbol=group, venue_symbol=group, group=group,
                  quote="USDT", ts_ms=NOW + n, recv_ms=NOW + n, bid=price * 0.9999, bid_size=1.0,
                  ask=price * 1.0001, ask_size=1.0, last=price)  # fmt: skip


def records() -> list[Any]:
    out: list[Any] = []
    for n in range(30):
        for i, (group, price) in enumerate(PRICES.items()):
            for j, venue in enumerate(VENUES):
                out.append(quote(venue, group, price * (1 + 0.001 * ((n + j) % 5)), n * 10 + i))
    usdt = Trade(exchange="coinbase", market="spot", symbol="USDTUSD", venue_symbol="USDT-USD",
                 group="USDTUSD", quote="USD", ts_ms=NOW + 400, recv_ms=NOW + 400, price=0.99,
                 size=1.0, side="buy", trade_id="t-1")  # fmt: skip
    return [*out, usdt]


def altered(ticker: Ticker) -> Ticker:
    return msgspec.structs.replace(ticker, ts_ms=ticker.ts_ms + 300, recv_ms=ticker.recv_ms + 300,
                                   bid=1.0, ask=1.0, last=1.0)  # fmt: skip


@pytest.fixture
def settings(redis_server: Any, settings_factory: Any) -> Settings:
    return settings_factory(  # type: ignore[no-any-return]
        redis_url=redis_server.url, venues=",".join(VENUES), stream_shards=4,
        depeg_threshold_pct=0.5, maxlen_raw=100_000,
    )  # fmt: skip


async def fold_owned(service: AggregatorService) -> None:
    await service.load_instruments()
    for unit in service.units.values():
        await unit.rebuild()


async def test_two_aggregators_split_four_shards(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    streams = settings.streams()
    followed = {g: orjson.dumps({}) for g in PRICES}
    await real_redis.hset(collector_key(settings.stream_prefix, "symbols"), mapping=followed)
    await publish(real_redis, streams.raw, records())
    assert await real_redis.xlen(streams.raw.shard(3).name) == 30 * 3 + 1  # BTC + USDT context
    producer = StreamProducer(real_redis)
    low = AggregatorService(settings.model_copy(update={"owned_shards": "0-1"}), real_redis,
                            producer)  # fmt: skip
    high = AggregatorService(settings.model_copy(update={"owned_shards": "2-3"}), real_redis,
                             producer)  # fmt: skip
    assert (sorted(low.units), sorted(high.units)) == ([0, 1], [2, 3])
    await fold_owned(low)
    await fold_owned(high)
    emitted = {s.symbol for s in low.emit(NOW + 500)} | {s.symbol for s in high.emit(NOW + 500)}
    await producer.flush()
    assert emitted == set(PRICES)
    for symbol in PRICES:
        home = streams.normalized.shard_for(symbol).name
        rows: Any = await real_redis.xrange(home)
        assert [f[b"symbol"].decode() for _, f in rows] == [symbol], symbol
        assert int(home[-2]) == shard_of(symbol, 4)
    assert set(low.units[0].state.symbols()) == {"ETHUSDT", "USDTUSD"}
    alerts: Any = await real_redis.xrange(streams.market_alerts.name)
    assert [f[b"type"] for _, f in alerts] == [b"DEPEG"]  # four units saw USDT, one spoke


async def test_a_new_owner_rebuilds_the_state_of_a_single_pass(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    streams = settings.streams()
    batch = records()
    await publish(real_redis, streams.raw, batch)
    first = AggregatorService(settings, real_redis, StreamProducer(real_redis))
    await fold_owned(first)  # the first owner folds all, then "dies"
    successor = AggregatorService(settings, real_redis, StreamProducer(real_redis))
    await fold_owned(successor)
    reference = new_state(settings)
    for record in batch:
        reference.update(record)
    for symbol in PRICES:
        unit = successor.units[shard_of(symbol, 4)]
        assert unit.state.snapshot(symbol, NOW + 500) == reference.snapshot(symbol, NOW + 500)
    # the groups start after the folded entries: nothing pending, nothing to deliver
    for shard in streams.raw.shards_all():
        [group] = await real_redis.xinfo_groups(shard.name)
        last: Any = await real_redis.xrevrange(shard.name, count=1)
        assert (group["last-delivered-id"], group["pending"]) == (last[0][0], 0)
        assert group["lag"] == 0
    # a re-delivered batch (same ids) folds nothing
    unit = successor.units[shard_of("BTCUSDT", 4)]
    rows: Any = await real_redis.xrange(unit.raw.name)
    # (altered copies: were they folded, BTCUSDT's venues would quote 1.0, newer than the rest)
    again = [(i.decode(), unit.raw.schema.decode(f)) for i, f in rows]
    await unit.handle([(i, altered(r)) for i, r in again if isinstance(r, Ticker)])
    assert unit.state.snapshot("BTCUSDT", NOW + 500) == reference.snapshot("BTCUSDT", NOW + 500)


async def test_a_former_owner_cannot_acknowledge(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    """A consumer fenced with a stale token raises Fenced and leaves its batch pending for the
    shard's new owner; with the current token it acknowledges."""
    streams = settings.streams()
    await publish(real_redis, streams.raw, records()[:12])
    shard = streams.raw.shard_for("ETHUSDT")
    key = lease_key(settings.stream_prefix, "aggregator", shard_of("ETHUSDT", 4))
    await real_redis.set(key, "7 the-new-owner")
    unit = AggregatorService(settings, real_redis, StreamProducer(real_redis)).units[0]
    unit.consumer.fence = (key, 6)
    await unit.consumer.ensure_group()
    with pytest.raises(Fenced):
        await unit.consumer.step(block=False)
    pending: Any = await real_redis.xpending(shard.name, "aggregator")
    assert pending["pending"] == 3  # ETHUSDT's three quotes of the 12 records: not acknowledged
    unit.consumer.fence = (key, 7)
    assert await unit.consumer.step(block=False, claim=True) == 0  # claim waits for idle time
    await real_redis.xgroup_setid(shard.name, "aggregator", "0")
    assert await unit.consumer.step(block=False) == 3
    pending = await real_redis.xpending(shard.name, "aggregator")
    assert pending["pending"] == 0


async def test_two_leased_aggregators_split_and_hand_over(
    real_redis: aredis.Redis, settings: Settings
) -> None:
    """Two leased aggregators in one process take two shards each (the first one's rebuilds
    racing the second's as the shards are rebalanced); once one stops, the other owns all
    four, and every symbol's snapshots are in its home shard."""
    leased = settings.model_copy(update={"shard_leases": True, "shard_lease_ttl_ms": 600})
    streams = leased.streams()
    producer = StreamProducer(real_redis)
    first = AggregatorService(leased, real_redis, producer, "aggregator-a")
    second = AggregatorService(leased, real_redis, producer, "aggregator-b")
    stops = [asyncio.Event(), asyncio.Event()]
    tasks = [asyncio.create_task(a.run(s)) for a, s in zip((first, second), stops, strict=True)]

    async def owned(*counts: int) -> bool:
        return [len(a.units) for a in (first, second)] == list(counts)

    async def in_home_shards() -> bool:
        await publish(real_redis, streams.raw, fresh_quotes())
        await producer.flush()
        for symbol in PRICES:
            rows: Any = await real_redis.xrange(streams.normalized.shard_for(symbol).name)
            if symbol not in {f[b"symbol"].decode() for _, f in rows}:
                return False
        return True

    try:
        await eventually(lambda: owned(2, 2), 20, "a 2 + 2 split of the four shards")
        await eventually(in_home_shards, 20, "every symbol's snapshot in its home shard")
        stops[0].set()
        await asyncio.wait_for(tasks[0], 10)
        await eventually(lambda: owned(0, 4), 20, "the survivor owning all four")
    finally:
        for stop in stops:
            stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
    for shard in streams.normalized.shards_all():
        rows = await real_redis.xrange(shard.name)
        assert {f[b"symbol"].decode() for _, f in rows} == {
            s for s in PRICES if shard_of(s, 4) == shard.index
        }


def fresh_quotes() -> list[Ticker]:
    """One quote per venue and symbol, stamped now (so the snapshot is fresh)."""
    now = now_ms()
    return [msgspec.structs.replace(quote(v, g, p, 0), ts_ms=now, recv_ms=now)
            for g, p in PRICES.items() for v in VENUES]  # fmt: skip
