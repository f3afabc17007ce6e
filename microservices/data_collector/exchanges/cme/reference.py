"""The cross-venue spot reference at a settlement time, for the basis.

`ReferencePrices` is the interface: `price_at(group, ts_ms)` -> the group's price over the
minute ending at `ts_ms`, or None. `RestKlineReference` answers it from the venues' REST 1m
history (the same requests and parsers as `backfill`): the close of each venue's bar opening
at `ts_ms - 60 s`, and the median across the venues that have one. A reader of stored
normalized history can implement the same interface once that storage exists.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable, Sequence
from typing import Final, Protocol

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
