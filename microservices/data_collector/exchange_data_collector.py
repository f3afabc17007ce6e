"""REST collector: historical OHLC, funding and open interest, and polling of current values.

History comes back as pandas DataFrames of one unified format per kind (`FRAME_COLUMNS`),
fetched page by page so long ranges never exceed a venue's page limit. `sync_history` starts
after a timestamp cursor per (venue, kind, symbol) kept in Redis and after the newest row the
caller already stored (`history_store`: that one survives restarts), so only what is new is
fetched. Per-symbol failures are logged folded: one `rest.failed` per venue and cause per
interval, with a count.
`poll_current` publishes each perp venue's current funding and open interest to exchange.raw;
`refresh_funding_info` keeps the per-symbol funding intervals of venues that publish them
separately (Binance USDⓈ-M `/fapi/v1/fundingInfo`) current, hourly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

import redis.asyncio as aredis

from microservices.common.clock import now_ms
from microservices.common.errors import BadMessage, TransientError
from microservices.common.log_fold import FoldedLog
from microservices.common.producer import StreamProducer
from microservices.common.records import Funding, Kline, OpenInterest, RawRecord
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS
from microservices.common.streams import Stream
from microservices.data_collector.exchanges.base import Exchange, RestRequest
from microservices.data_collector.rest_client import RestClient
from microservices.data_collector.rest_errors import failure_fields

if TYPE_CHECKING:
    import pandas as pd  # imported where frames are built: the live collector never needs it

logger = logging.getLogger(__name__)
Kind = Literal["ohlc", "funding", "open_interest"]
KINDS: Final[tuple[Kind, ...]] = ("ohlc", "funding", "open_interest")
MINUTE_MS: Final = 60_000
HOUR_MS: Final = 3_600_000
FUNDING_INFO_REFRESH_S: Final = 3_600.0  # venues announce interval changes hours ahead
FRAME_COLUMNS: Final[dict[Kind, list[str]]] = {
    "ohlc": ["timestamp", "exchange", "symbol", "open", "high", "low", "close", "volume", "closed"],
    "funding": [
        "timestamp", "exchange", "symbol", "funding_rate", "funding_interval_h",
        "funding_rate_8h", "mark_price",
    ],
    "open_interest": ["timestamp", "exchange", "symbol", "open_interest", "open_interest_usd"],
}  # fmt: skip


def _row(record: RawRecord) -> dict[str, Any]:
    base = {"timestamp": record.ts_ms, "exchange": record.exchange, "symbol": record.symbol}
    if isinstance(record, Kline):
        return base | {
            "timestamp": record.open_time_ms, "open": record.open, "high": record.high,
            "low": record.low, "close": record.close, "volume": record.volume,
            "closed": record.closed,
        }  # fmt: skip
    if isinstance(record, Funding):
        rate_8h = record.funding_rate * 8.0 / record.funding_interval_h
        return base | {
            "funding_rate": record.funding_rate, "funding_interval_h": record.funding_interval_h,
            "funding_rate_8h": rate_8h, "mark_price": record.mark_price,
        }  # fmt: skip
    if isinstance(record, OpenInterest):
        return base | {
            "open_interest": record.open_interest,
            "open_interest_usd": record.open_interest_usd,
        }
    raise TypeError(f"no history row for {type(record).__name__}")


def records_to_frame(kind: Kind, records: Iterable[RawRecord]) -> pd.DataFrame:
    """Records -> the unified DataFrame of `kind`: sorted, de-duplicated, UTC timestamps."""
    import pandas as pd  # ~60 MB of RSS (with numpy and pyarrow): only history sync pays it

    frame = pd.DataFrame([_row(r) for r in records], columns=FRAME_COLUMNS[kind])
    if frame.empty:
        return frame
    frame = frame.drop_duplicates(subset=["timestamp", "exchange", "symbol"], keep="last")
    frame = frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="ms", utc=True)
    return frame


def closed_only(frame: pd.DataFrame) -> pd.DataFrame:
    """OHLC rows of finished bars: a bar still open is not final."""
    if frame.empty:
        return frame
    return frame[frame["closed"].astype(bool)].reset_index(drop=True)


class ExchangeDataCollector:
    def __init__(
        self,
        exchanges: dict[str, Exchange],
        client: RestClient,
        redis: aredis.Redis | None = None,
        cursor_key: str = "quantum:stream:collector.cursor",
        error_log_interval_s: float = 60.0,
    ) -> None:
        self.exchanges = exchanges
        self.client = client
        self.redis = redis
        self.cursor_key = cursor_key
        self.published = 0  # records poll_current handed to the producer (all time)
        # per-symbol failures of polls and history syncs: one line per venue and cause
        self.failures = FoldedLog(logger, "rest.failed", error_log_interval_s)

    # ------------------------------------------------------------------ history

    async def fetch(
        self, kind: Kind, venue: str, symbol: str, start_ms: int, end_ms: int,
        progress: Callable[[int], object] | None = None,
    ) -> pd.DataFrame:  # fmt: skip
        """History of `kind` for [start_ms, end_ms], paginated; empty frame if unsupported."""
        records = await self.fetch_records(kind, venue, symbol, start_ms, end_ms, progress)
        return records_to_frame(kind, records)

    async def fetch_records(
        self, kind: Kind, venue: str, symbol: str, start_ms: int, end_ms: int,
        progress: Callable[[int], object] | None = None,
    ) -> list[RawRecord]:  # fmt: skip
        """The records behind `fetch` (venue symbol and followed symbol kept: `--to-db`)."""
        exchange = self.exchanges[venue]
        if kind == "open_interest" and exchange.oi_history_max_age_ms is not None:
            start_ms = max(start_ms, now_ms() - exchange.oi_history_max_age_ms)
        records: list[RawRecord] = []
        for page_start, page_end in self.pages(kind, exchange, start_ms, end_ms):
            request = self._history_request(kind, exchange, symbol, page_start, page_end)
            if request is None:
                break
            payload = await self.client.get_json(exchange, request)
            rows = self._parse_history(kind, exchange, symbol, payload)
            kept = [r for r in rows if start_ms <= _history_ts(r) <= end_ms]
            records.extend(kept)
            if progress is not None:
                progress(len(kept))  # rows (bars), not time
        return records

    @staticmethod
    def supports(kind: Kind, exchange: Exchange, symbol: str) -> bool:
        """Whether the venue serves `kind` history at all (spot venues have no funding)."""
        if kind == "ohlc":
            return True
        if kind == "funding":
            return exchange.funding_history_request(symbol, 0, HOUR_MS) is not None
        return exchange.open_interest_history_request(symbol, 0, HOUR_MS) is not None

    @staticmethod
    def pages(kind: Kind, exchange: Exchange, start_ms: int, end_ms: int) -> list[tuple[int, int]]:
        """Split [start, end] into windows that fit in one page of the venue's API."""
        step = {
            "ohlc": exchange.kline_page_limit * MINUTE_MS,
            "funding": exchange.funding_page_limit * HOUR_MS,  # 1 h is the shortest interval
            "open_interest": exchange.oi_page_limit * exchange.oi_period_ms,
        }[kind]
        windows = []
        cursor = start_ms
        while cursor <= end_ms:
            windows.append((cursor, min(cursor + step - 1, end_ms)))
            cursor += step
        return windows

    def _history_request(
        self, kind: Kind, exchange: Exchange, symbol: str, start: int, end: int
    ) -> RestRequest | None:
        if kind == "ohlc":
            return exchange.klines_request(symbol, start, end)
        if kind == "funding":
            return exchange.funding_history_request(symbol, start, end)
        return exchange.open_interest_history_request(symbol, start, end)

    def _parse_history(
        self, kind: Kind, exchange: Exchange, symbol: str, payload: Any
    ) -> Sequence[RawRecord]:
        received = now_ms()
        if kind == "ohlc":
            return exchange.parse_klines(symbol, payload, received)
        if kind == "funding":
            return exchange.parse_funding_history(symbol, payload, received)
        return exchange.parse_open_interest_history(symbol, payload, received)

    async def sync_history(
        self, kind: Kind, venue: str, symbol: str, lookback_ms: int, now: int | None = None,
        since_ms: int | None = None,
    ) -> pd.DataFrame:  # fmt: skip
        """Rows newer than the cursor and `since_ms` (the newest row the caller already
        stored), within the lookback; advances the Redis cursor."""
        end = now_ms() if now is None else now
        field = f"{venue}:{kind}:{symbol}"
        known = [t for t in (await self._get_cursor(field), since_ms) if t is not None]
        start = max([end - lookback_ms, *(t + 1 for t in known)])
        if start > end:
            return records_to_frame(kind, [])
        frame = await self.fetch(kind, venue, symbol, start, end)
        if kind == "ohlc":
            frame = closed_only(frame)
        if not frame.empty:
            newest = int(frame["timestamp"].iloc[-1].value // 1_000_000)
            await self._set_cursor(field, newest)
        return frame

    async def _get_cursor(self, field: str) -> int | None:
        if self.redis is None:
            return None
        value = await self.redis.hget(self.cursor_key, field)
        return None if value is None else int(value)

    async def _set_cursor(self, field: str, ts_ms: int) -> None:
        if self.redis is not None:
            await self.redis.hset(self.cursor_key, field, str(ts_ms))

    # ------------------------------------------------------------------ current values

    async def current(self, venue: str, symbol: str) -> list[RawRecord]:
        """Current funding and open interest of a perp venue (empty for spot venues)."""
        exchange = self.exchanges[venue]
        out: list[RawRecord] = []
        funding_req = exchange.current_funding_request(symbol)
        funding_payload: Any = None
        if funding_req is not None:
            funding_payload = await self.client.get_json(exchange, funding_req)
            out.extend(exchange.parse_current_funding(symbol, funding_payload, now_ms()))
        oi_req = exchange.current_open_interest_request(symbol)
        if oi_req is not None:
            # Venues that serve both from one endpoint (Bybit tickers) are asked only once.
            same = oi_req == funding_req and funding_payload is not None
            payload = funding_payload if same else await self.client.get_json(exchange, oi_req)
            out.extend(exchange.parse_current_open_interest(symbol, payload, now_ms()))
        return out

    async def poll_current(self, producer: StreamProducer, raw: Stream[Any]) -> int:
        published = 0
        for venue, exchange in self.exchanges.items():
            for symbol in exchange.symbols:
                try:
                    records = await self.current(venue, symbol)
                except (TransientError, BadMessage) as exc:
                    self.failed(venue, symbol, exc)
                    continue
                for record in records:
                    producer.publish(raw, record)
                published += len(records)
        self.published += published
        self.failures.flush()
        return published

    def failed(self, venue: str, symbol: str, exc: Exception) -> None:
        """Count a per-symbol REST failure into the folded `rest.failed` log line."""
        endpoint, cause = failure_fields(exc)
        self.failures.add({"exchange": venue, "cause": cause}, symbol=symbol, endpoint=endpoint)

    async def refresh_funding_info(self) -> None:
        """Ask every venue with a funding-info endpoint for its per-symbol intervals; on a
        fault the venue keeps the intervals it had (8 h until the first answer)."""
        for venue, exchange in self.exchanges.items():
            request = exchange.funding_info_request()
            if request is None:
                continue
            try:
                payload = await self.client.get_json(exchange, request)
                adjusted = exchange.apply_funding_info(payload)
            except (TransientError, BadMessage) as exc:
                endpoint, cause = failure_fields(exc)
                logger.warning(
                    "rest.funding_info_failed",
                    extra={"exchange": venue, "endpoint": endpoint, "cause": cause},
                )
                continue
            logger.info("rest.funding_info", extra={"exchange": venue, "adjusted_h": adjusted})

    async def run_polling(
        self, producer: StreamProducer, raw: Stream[Any], stop: asyncio.Event, interval_s: float
    ) -> None:
        info_due = 0.0
        while not stop.is_set():
            if time.monotonic() >= info_due:
                await self.refresh_funding_info()
                info_due = time.monotonic() + FUNDING_INFO_REFRESH_S
            await self.poll_current(producer, raw)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
        self.failures.flush(force=True)

    async def safe_sync(
        self, kind: Kind, venue: str, symbol: str, lookback_ms: int, since_ms: int | None = None
    ) -> pd.DataFrame:
        """sync_history that logs and returns an empty frame on venue or Redis faults."""
        try:
            return await self.sync_history(kind, venue, symbol, lookback_ms, since_ms=since_ms)
        except (TransientError, BadMessage, *TRANSIENT_REDIS_ERRORS) as exc:
            self.failed(venue, symbol, exc)
            return records_to_frame(kind, [])


def _history_ts(record: RawRecord) -> int:
    return record.open_time_ms if isinstance(record, Kline) else record.ts_ms
