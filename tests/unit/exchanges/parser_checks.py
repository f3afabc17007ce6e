"""What every parsed frame must satisfy, whatever the venue (used by the typed-parser tests):
the records it returns are valid and counted, and a frame that yields none is rejected under
at most one reason; every record survives the exchange.raw schema."""

from __future__ import annotations

import math
from typing import Any

import orjson

from microservices.common.records import (
    AnyRaw,
    Funding,
    Kline,
    Liquidation,
    OpenInterest,
    Ticker,
    Trade,
)
from microservices.common.schema_fields import MAX_TS_MS, MIN_TS_MS
from microservices.common.schemas import RAW
from microservices.data_collector.exchanges import EXCHANGES
from microservices.data_collector.exchanges.base import VenueParser
from microservices.data_collector.exchanges.typed import TypedParser

RECV_MS = 1_700_000_060_000
Frame = str | bytes


def make(venue: str, symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")) -> VenueParser:
    return EXCHANGES[venue](symbols, "wss://x.invalid", "https://x.invalid").new_parser()


def typed_venues() -> list[str]:
    """The registered venues whose parser is built on the typed skeleton."""
    return sorted(venue for venue in EXCHANGES if isinstance(make(venue), TypedParser))


def positive(x: float | None) -> bool:
    return x is not None and 0.0 < x < math.inf


def non_negative(x: float | None) -> bool:
    return x is not None and 0.0 <= x < math.inf


def epoch(ms: int | None) -> bool:
    return type(ms) is int and MIN_TS_MS <= ms <= MAX_TS_MS


def valid(record: AnyRaw) -> bool:
    """The value bounds the parsers promise for each record type."""
    if not (epoch(record.ts_ms) and record.recv_ms == RECV_MS):
        return False
    if isinstance(record, Trade | Liquidation):
        ok = positive(record.price) and non_negative(record.size)
        return ok and record.side in ("buy", "sell") and getattr(record, "trade_id", "x") != ""
    if isinstance(record, Ticker):
        sizes = non_negative(record.bid_size) and non_negative(record.ask_size)
        last_ok = record.last is None or positive(record.last)
        return positive(record.bid) and record.bid <= record.ask < math.inf and sizes and last_ok
    if isinstance(record, Kline):
        o, h, low, c = record.open, record.high, record.low, record.close
        prices = positive(low) and low <= o <= h < math.inf and low <= c <= h
        return prices and non_negative(record.volume) and epoch(record.open_time_ms)
    if isinstance(record, Funding):
        optional = all(x is None or positive(x) for x in (record.mark_price, record.index_price))
        next_ok = record.next_funding_time_ms is None or epoch(record.next_funding_time_ms)
        return (
            abs(record.funding_rate) < 1.0
            and record.funding_interval_h > 0
            and optional
            and next_ok
        )
    if isinstance(record, OpenInterest):
        usd = record.open_interest_usd
        return non_negative(record.open_interest) and (usd is None or non_negative(usd))
    return False


def check(parser: VenueParser, frame: Frame, one_payload: bool = False) -> list[AnyRaw]:
    """Parse `frame` and check the result; `one_payload`: the frame carries one payload, so
    it either yields one record or is rejected once (Binance)."""
    stats = parser.stats
    emitted, rejected = sum(stats.emitted.values()), sum(stats.rejected.values())
    records = parser.parse(frame, RECV_MS)
    new_rejects = sum(stats.rejected.values()) - rejected
    assert isinstance(records, list)
    assert sum(stats.emitted.values()) - emitted == len(records), frame
    assert records or new_rejects <= 1, frame
    if one_payload:
        assert len(records) + new_rejects == 1, frame
    for record in records:
        assert valid(record), (frame, record)
        assert RAW.decode(RAW.encode(record)) == record
    return records


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def with_raw(frame: str, path: tuple[Any, ...], raw: str | None) -> str:
    """`frame` with the value at `path` replaced by the raw JSON text `raw` (None: removed)."""
    msg = orjson.loads(frame)
    target = msg
    for key in path[:-1]:
        target = target[key]
    if raw is None:
        del target[path[-1]]
        return dumps(msg)
    target[path[-1]] = "__MARK__"
    return dumps(msg).replace('"__MARK__"', raw, 1)
