"""The basis reference from stored normalized history (the storage's `normalized` table in a
real PostgreSQL): the median price of the group's newest snapshot in the settlement minute,
and the REST klines asked only when the store has none."""

from __future__ import annotations

import asyncpg

from microservices.common.records import NormalizedSnapshot
from microservices.data_collector.exchanges.cme.reference import (
    FirstReference,
    StoredNormalizedReference,
)
from microservices.storage.db import insert_rows
from microservices.storage.rows import normalized_row
from microservices.storage.tables import NORMALIZED

SETTLE = 1_797_368_400_000  # 15 Dec 2026 21:00 UTC, 15:00 Chicago


def snapshot(symbol: str, ts_ms: int, median: float) -> NormalizedSnapshot:
    return NormalizedSnapshot(symbol=symbol, ts_ms=ts_ms, avg_price=median + 1.0,
                              median_price=median, price_divergence=0.0, exchange_divergence=0.0,
                              funding_delta=0.0, avg_funding_rate=0.0, volatility_factor=1.0,
                              num_exchanges=2)  # fmt: skip


class Fixed:
    def __init__(self, price: float | None) -> None:
        self.price, self.asked = price, 0

    async def price_at(self, group: str, ts_ms: int) -> float | None:
        self.asked += 1
        return self.price


async def test_stored_normalized_history_is_the_reference(pg_url: str) -> None:
    rows = [
        snapshot("BTCUSDT", SETTLE - 61_000, 86_000.0),  # before the settlement minute
        snapshot("BTCUSDT", SETTLE - 30_000, 86_820.0),
        snapshot("BTCUSDT", SETTLE - 1_000, 86_830.01),  # the newest in the minute
        snapshot("BTCUSDT", SETTLE + 1_000, 87_000.0),  # after it
        snapshot("ETHUSDT", SETTLE - 1_000, 3_100.0),
    ]
    conn = await asyncpg.connect(pg_url)
    try:
        async with conn.transaction():
            await insert_rows(conn, NORMALIZED, [normalized_row(s) for s in rows])
    finally:
        await conn.close()
    stored = StoredNormalizedReference(pg_url)
    assert await stored.price_at("BTCUSDT", SETTLE) == 86_830.01
    assert await stored.price_at("ETHUSDT", SETTLE) == 3_100.0
    assert await stored.price_at("SOLUSDT", SETTLE) is None
    rest = Fixed(90_000.0)
    first = FirstReference(stored, rest)
    assert await first.price_at("BTCUSDT", SETTLE) == 86_830.01 and rest.asked == 0
    assert await first.price_at("BTCUSDT", SETTLE - 3_600_000) == 90_000.0 and rest.asked == 1


async def test_an_unreachable_store_gives_no_reference() -> None:
    stored = StoredNormalizedReference("postgresql://nobody@127.0.0.1:1/none", timeout_s=2.0)
    assert await stored.price_at("BTCUSDT", SETTLE) is None
