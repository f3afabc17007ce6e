"""The cross-venue spot reference at a settlement time, for the basis.

`ReferencePrices` is the interface: `price_at(group, ts_ms)` -> the group's price over the
minute ending at `ts_ms`, or None. `StoredNormalizedReference` answers it from stored
normalized history (the storage's `normalized` table: the `median_price` of the group's
newest snapshot in that minute); `RestKlineReference` from the venues' REST 1m history (the
same requests and parsers as `backfill`: the close of each venue's bar opening at
`ts_ms - 60 s`, the median across the venues that have one); `FirstReference` asks several in
order (stored history first, REST klines when it has nothing).
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final, Protocol

import asyncpg

from microservices.common.errors import BadMessage, TransientError
from microservices.data_collector.exchanges.base import Exchange
from microservices.data_collector.rest_client import RestClient

MINUTE_MS: Final = 60_000
logger = logging.getLogger(__name__)


class ReferencePrices(Protocol):
    async def price_at(self, group: str, ts_ms: int) -> float | None: ...


class RestKlineReference:
    """Median of the venues' 1m closes of the minute ending at `ts_ms` (REST history)."""

    def __init__(
        self, exchanges: Sequence[Exchange], client: RestClient, now_ms: Callable[[], int]
    ) -> None:
        self.exchanges = tuple(exchanges)
        self.client = client
        self.now_ms = now_ms

    async def price_at(self, group: str, ts_ms: int) -> float | None:
        closes = [c for ex in self.exchanges if (c := await self._close(ex, group, ts_ms))]
        return statistics.median(closes) if closes else None

    async def _close(self, exchange: Exchange, group: str, ts_ms: int) -> float | None:
        if group not in exchange.symbols:
            return None
        open_ms = ts_ms - MINUTE_MS
        request = exchange.klines_request(group, open_ms, ts_ms - 1)
        try:
            payload = await self.client.get_json(exchange, request)
            bars = exchange.parse_klines(group, payload, self.now_ms())
        except (TransientError, BadMessage) as exc:
            logger.warning("cme.reference_failed", extra={"venue": exchange.name,
                           "symbol": group, "error": str(exc)[:200]})  # fmt: skip
            return None
        return next((bar.close for bar in bars if bar.open_time_ms == open_ms), None)


class StoredNormalizedReference:
    """The `median_price` of the group's newest stored `exchange.normalized` snapshot in the
    minute ending at `ts_ms` (None without one, or when the database cannot be reached)."""

    QUERY: Final = (
        "SELECT median_price FROM normalized WHERE symbol = $1 AND timestamp > $2 "
        "AND timestamp <= $3 ORDER BY timestamp DESC LIMIT 1"
    )

    def __init__(self, dsn: str, timeout_s: float = 10.0) -> None:
        self.dsn = dsn
        self.timeout_s = timeout_s

    async def price_at(self, group: str, ts_ms: int) -> float | None:
        start, end = (datetime.fromtimestamp(ms / 1000, UTC) for ms in (ts_ms - MINUTE_MS, ts_ms))
        try:
            conn = await asyncpg.connect(self.dsn, timeout=self.timeout_s)
            try:
                value = await conn.fetchval(self.QUERY, group, start, end)
            finally:
                await conn.close()
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            logger.warning("cme.reference_failed", extra={"source": "normalized",
                           "symbol": group, "error": str(exc)[:200]})  # fmt: skip
            return None
        return None if value is None else float(value)


class FirstReference:
    """The first price any of `references` has, asked in order."""

    def __init__(self, *references: ReferencePrices) -> None:
        self.references = references

    async def price_at(self, group: str, ts_ms: int) -> float | None:
        for reference in self.references:
            price = await reference.price_at(group, ts_ms)
            if price is not None:
                return price
        return None
