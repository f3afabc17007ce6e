"""The writer against real PostgreSQL and a real redis-server: every stream lands in its
table with the values it carried, duplicates insert once, oversized values are dead-lettered."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import pytest
import redis.asyncio as aredis

from microservices.common.backoff import Backoff
from microservices.common.market_alerts import MARKET_ALERTS
from microservices.common.records import Funding, Kline, OpenInterest
from microservices.common.schemas import RAW
from microservices.common.settings import Settings
from microservices.storage import db, tables
from microservices.storage.rows import Item, funding_row
from microservices.storage.service import StoreService
from microservices.storage.sink import Sink
from microservices.storage.writer import GROUP
from tests import factories
from tests.factories import T0, header
from tests.integration.storage.helpers import count, fetch, run_store_until

pytestmark = pytest.mark.integration


def make_settings(settings_factory: Any) -> Settings:
    settings: Settings = settings_factory(
        store_block_ms=100, store_orderbook_interval_s=3600, store_retention_interval_s=3600
    )
    return settings


async def add(redis: aredis.Redis, stream: Any, record: Any) -> str:
    entry_id = await redis.xadd(stream.name, stream.schema.encode(record))
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


async def group_pending(redis: aredis.Redis, stream: Any) -> int:
    info: Any = await redis.xpending(stream.name, GROUP)
    return int(info["pending"])


async def acked_all(redis: aredis.Redis, streams: Any) -> bool:
    for stream in (streams.raw, streams.normalized, streams.features, streams.status,
                   streams.alerts):  # fmt: skip
        groups: Any = await redis.xinfo_groups(stream.name)
        mine = [g for g in groups if g["name"] in (GROUP, GROUP.encode())]
        if not mine or mine[0]["pending"] or mine[0]["lag"]:
            return False
    return True


async def test_every_stream_lands_in_its_table(
    real_redis: aredis.Redis, pg_url: str, settings_factory: Any
) -> None:
    settings = make_settings(settings_factory)
    streams = settings.streams()
    for record in factories.raw_samples():
        await add(real_redis, streams.raw, record)
    await add(real_redis, streams.normalized, factories.snapshot())
    await add(real_redis, streams.features, factories.features())
    await add(real_redis, streams.status, factories.status())
    await add(real_redis, streams.alerts, factories.alert())
    service = StoreService(settings, real_redis, pg_url)
    await run_store_until(service, lambda: acked_all(real_redis, streams))

    funding = await fetch(pg_url, "SELECT * FROM funding_rates ORDER BY exchange")
    assert [(r["id"], r["exchange"], float(r["rate"])) for r in funding] == [
        (f"binance_futures_BTCUSDT_{T0}", "binance_futures", 0.0001),
        (f"bybit_BTCUSDT_{T0}", "bybit", -0.00025),
    ]
    first = funding[0]
    assert first["timestamp"] == datetime.fromtimestamp(T0 / 1000, tz=UTC)
    assert first["next_funding_time"] == datetime.fromtimestamp((T0 + 3_600_000) / 1000, tz=UTC)
    assert orjson.loads(first["metadata"]) == {
        "funding_interval_h": 8.0, "index_price": 36499.0, "mark_price": 36501.0,
        "market": "perp", "quote": "USDT",
    }  # fmt: skip
    assert (first["canonical_symbol"], first["symbol_group"]) == ("BTCUSDT", "BTCUSDT")
    oi = await fetch(pg_url, "SELECT * FROM open_interest ORDER BY exchange")
    assert [(r["exchange"], float(r["open_interest"]), r["open_interest_usd"]) for r in oi] == [
        ("binance_futures", 10.0, None),
        ("bybit", 50123.5, 1830000000),
    ]
    bars = await fetch(pg_url, "SELECT * FROM ohlc")
    assert [(b["open"], b["high"], b["low"], b["close"], b["volume"]) for b in bars] == [
        (36500.0, 36510.5, 36490.25, 36505.0, 12.5)
    ]
    norm = await fetch(pg_url, "SELECT * FROM normalized")
    assert norm[0]["avg_price"] == 100.0 and norm[0]["num_exchanges"] == 3
    assert orjson.loads(norm[0]["venues"])["bybit"] == {
        "price": 100.0, "age_ms": 40, "funding_8h": -0.025, "open_interest_usd": 5e8,
    }  # fmt: skip
    assert orjson.loads(norm[0]["excluded"]) == {"okx": "stale"}
    feats = await fetch(pg_url, "SELECT * FROM features")
    vector = factories.features()
    assert {k: feats[0][k] for k in vector.values} == vector.values
    status = await fetch(pg_url, "SELECT * FROM exitbrain_status")
    assert (status[0]["atr_multiplier"], status[0]["total_reads"]) == (2.08, 142)
    alerts = await fetch(pg_url, "SELECT * FROM exitbrain_alerts")
    assert (alerts[0]["type"], alerts[0]["reason"]) == ("FALLBACK_TO_LOCAL", "Data stale (67.3s)")
    assert service.status.state == "ok" and not service.status.lost


async def test_duplicates_insert_once(
    real_redis: aredis.Redis, pg_url: str, settings_factory: Any
) -> None:
    settings = make_settings(settings_factory)
    streams = settings.streams()
    funding = Funding(**header(exchange="bybit", market="perp"), funding_rate=0.0003,
                      funding_interval_h=8.0)  # fmt: skip
    for _ in range(3):  # the same record three times (a producer retry), plus a replay below
        await add(real_redis, streams.raw, funding)
    service = StoreService(settings, real_redis, pg_url)
    await run_store_until(service, lambda: acked_all(real_redis, streams))
    assert await count(pg_url, "funding_rates") == 1
    # a second writer group position reset: every entry is delivered again, nothing changes
    await real_redis.xgroup_setid(streams.raw.name, GROUP, "0")
    await add(real_redis, streams.raw, funding)
    again = StoreService(settings, real_redis, pg_url)
    await run_store_until(again, lambda: acked_all(real_redis, streams))
    assert await count(pg_url, "funding_rates") == 1
    assert again.status.entries_stored[streams.raw.name] == 4
    assert again.status.rows_inserted.get("funding_rates", 0) == 0


async def test_oversized_values_go_to_the_dead_letter(
    real_redis: aredis.Redis, pg_url: str, settings_factory: Any
) -> None:
    settings = make_settings(settings_factory)
    streams = settings.streams()
    long_symbol = "X" * 80  # the venue symbol exceeds VARCHAR(50)
    huge = OpenInterest(**header(exchange="bybit", market="perp"), open_interest=3e15)
    wide = Funding(**header(exchange="bybit", market="perp", venue_symbol=long_symbol),
                   funding_rate=0.0001, funding_interval_h=8.0)  # fmt: skip
    good = OpenInterest(**header(exchange="okx", market="perp"), open_interest=12.5)
    open_bar = Kline(**header(), open_time_ms=T0, interval="1m", open=1.0, high=1.0, low=1.0,
                     close=1.0, volume=1.0, closed=False)  # fmt: skip
    ids = [await add(real_redis, streams.raw, r) for r in (huge, wide, good, open_bar)]
    service = StoreService(settings, real_redis, pg_url)
    await run_store_until(service, lambda: acked_all(real_redis, streams))
    rows = await fetch(pg_url, "SELECT exchange, open_interest FROM open_interest")
    assert [(r["exchange"], float(r["open_interest"])) for r in rows] == [("okx", 12.5)]
    assert await count(pg_url, "funding_rates") == 0
    assert await count(pg_url, "ohlc") == 0  # an open bar is not history yet
    dead: Any = await real_redis.xrange(streams.raw.dead_letter)
    assert [d[1][b"dead_source_id"].decode() for d in dead] == ids[:2]
    errors = [d[1][b"dead_error"].decode() for d in dead]
    assert errors[0] == (
        "storage: open_interest: column 'open_interest': 3000000000000000.0 exceeds DECIMAL(20,8)"
    )
    assert errors[1] == "storage: funding_rates: column 'symbol': 80 characters, at most 50"
    kept = RAW.decode(dead[0][1])  # the entry itself is kept whole
    assert isinstance(kept, OpenInterest) and kept.open_interest == 3e15
    assert service.status.rejected == {streams.raw.name: 2}


async def test_disk_full_pauses_raises_an_alert_and_resumes(
    real_redis: aredis.Redis, pg_url: str, settings_factory: Any
) -> None:
    settings = make_settings(settings_factory)
    service = StoreService(settings, real_redis, pg_url)
    seen: list[str] = []
    failures = 3

    async def disk_fills_then_frees(conn: Any, table: Any, rows: Any) -> int:
        nonlocal failures
        seen.append(service.status.state)
        if failures:
            failures -= 1
            raise asyncpg.exceptions.DiskFullError("could not extend file: No space left")
        return await db.insert_rows(conn, table, rows)

    pool = await asyncpg.create_pool(pg_url, min_size=1, max_size=2)
    try:
        sink = Sink(
            pool, service.status, backoff=Backoff(base_s=0.01, cap_s=0.05),
            on_disk_full=service.alert_disk_full, insert=disk_fills_then_frees,
        )  # fmt: skip
        record = Funding(**header(exchange="bybit", market="perp"), funding_rate=0.0001,
                         funding_interval_h=8.0)  # fmt: skip
        item = Item("1-0", tables.FUNDING_RATES, funding_row(record))
        inserted, rejected = await sink.commit([item], asyncio.Event())
    finally:
        await pool.close()
    assert (inserted, rejected) == ({"funding_rates": 1}, [])
    assert seen == ["starting", "disk_full", "disk_full", "disk_full"]  # paused, then resumed
    assert service.status.state == "ok"
    entries: Any = await real_redis.xrange(settings.streams().market_alerts.name)
    assert len(entries) == 1  # one alert per pause, not one per retry
    alert = MARKET_ALERTS.decode(entries[0][1])
    assert (alert.type, alert.severity, alert.source) == (
        "STORAGE_DISK_FULL",
        "critical",
        "storage",
    )
    assert alert.data == {"error": "DiskFullError: could not extend file: No space left"}
    assert await count(pg_url, "funding_rates") == 1


async def test_order_book_snapshots_and_retention_jobs(
    real_redis: aredis.Redis, pg_url: str, settings_factory: Any
) -> None:
    from microservices.common.book_schema import BookTop, encode_full_book, full_book_field
    from microservices.common.clock import now_ms
    from microservices.common.streams import collector_key

    settings = settings_factory(
        store_block_ms=100, store_orderbook_interval_s=0.2, store_orderbook_levels=2,
        store_retention_interval_s=0.2, retention_funding_days=1,
    )  # fmt: skip
    now = now_ms()
    top = BookTop(
        exchange="coinbase", market="spot", symbol="BTCUSD", venue_symbol="BTC-USD",
        group="BTCUSDT", quote="USD", ts_ms=now - 500, recv_ms=now - 400, sequence=None,
        bids=[(100.0, 1.0), (99.5, 2.0), (99.0, 3.0)], asks=[(100.5, 1.5)], bid_levels=3,
        ask_levels=1, bid_depth_10bps=1.0, ask_depth_10bps=1.0, bid_depth_50bps=1.0,
        ask_depth_50bps=1.0,
    )  # fmt: skip
    key = collector_key(settings.stream_prefix, "books")
    await real_redis.hset(key, full_book_field("coinbase", "BTCUSDT"), encode_full_book(top))
    old = Funding(**header(exchange="bybit", market="perp", ts_ms=now - 2 * 86_400_000),
                  funding_rate=0.0001, funding_interval_h=8.0)  # fmt: skip
    fresh = Funding(**header(exchange="bybit", market="perp", ts_ms=now - 3_600_000),
                    funding_rate=0.0002, funding_interval_h=8.0)  # fmt: skip
    conn = await asyncpg.connect(pg_url)
    try:  # rows as an earlier run left them
        async with conn.transaction():
            rows = [funding_row(old), funding_row(fresh)]
            await db.insert_rows(conn, tables.FUNDING_RATES, rows)
    finally:
        await conn.close()
    service = StoreService(settings, real_redis, pg_url)

    async def both_done() -> bool:
        return await count(pg_url, "exchange_orderbooks") == 1 and (
            await count(pg_url, "funding_rates") == 1
        )

    await run_store_until(service, both_done)
    [book] = await fetch(pg_url, "SELECT * FROM exchange_orderbooks")
    assert book["id"] == f"coinbase_BTC-USD_{now - 500}"
    assert (book["symbol"], book["canonical_symbol"], book["symbol_group"]) == (
        "BTC-USD", "BTCUSD", "BTCUSDT",
    )  # fmt: skip
    assert orjson.loads(book["bids"]) == [[100.0, 1.0], [99.5, 2.0]]  # top 2 levels only
    assert orjson.loads(book["asks"]) == [[100.5, 1.5]]
    [kept] = await fetch(pg_url, "SELECT rate FROM funding_rates")
    assert float(kept["rate"]) == 0.0002  # the 2-day-old row is gone, the 1-hour-old one kept
    assert service.status.retention_deleted.get("funding_rates") == 1


async def test_a_wrong_password_stops_the_writer_with_the_reason(
    real_redis: aredis.Redis, pg_url: str, settings_factory: Any
) -> None:
    from microservices.common.errors import FatalError

    wrong = pg_url.replace("postgresql://ce:", "postgresql://ce:not-the-password", 1)
    service = StoreService(make_settings(settings_factory), real_redis, wrong)
    with pytest.raises(FatalError) as caught:
        await service.run(asyncio.Event())
    assert "storage: InvalidPasswordError: password authentication failed" in str(caught.value)
    from microservices.storage.status import health_key

    reported: Any = await real_redis.get(health_key(service.settings.stream_prefix))
    assert reported is not None  # the status loop reported, then ended on its own
