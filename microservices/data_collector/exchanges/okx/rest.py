"""OKX v5 REST answers into records: 1m candles (`/api/v5/market/history-candles`), funding
(`/api/v5/public/funding-rate` and `-history`) and open interest (`/api/v5/public/open-interest`,
`/api/v5/rubik/stat/contracts/open-interest-history`).

Every answer is `{"code": "0", "msg": "", "data": [...]}` with numbers as strings; bad rows are
skipped, a malformed envelope raises BadMessage. Open interest is in contracts (x the
listing's contract size: base units linear, USD inverse) with its USD value. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from microservices.common.errors import BadMessage
from microservices.common.records import Funding, Kline, OpenInterest
from microservices.data_collector.exchanges import _records as build
from microservices.data_collector.exchanges._records import Head
from microservices.data_collector.exchanges.base import (
    epoch_ms,
    minute_bar,
    qty,
    rate,
)
from microservices.data_collector.exchanges.rest_rows import parse_rows

R = TypeVar("R")
HOUR_MS: Final = 3_600_000


def check_envelope(payload: Any) -> None:
    """Raise BadMessage unless `payload` is a v5 envelope with code "0"."""
    code = payload.get("code") if isinstance(payload, dict) else None
    if code != "0":
        message = payload.get("msg") if isinstance(payload, dict) else payload
        raise BadMessage(f"okx code {code!r}: {str(message)[:200]}")


def data_rows(payload: Any, parse_row: Callable[[Any], R]) -> list[R]:
    """`parse_row` over `data` of a v5 envelope, skipping bad rows; BadMessage when the
    envelope itself is malformed or an error."""
    check_envelope(payload)
    rows = payload.get("data")
    return parse_rows(rows, parse_row, "okx data")


def parse_candles(head: Head, payload: Any, recv_ms: int, spot: bool) -> list[Kline]:
    """Rows `[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]`, newest first -> oldest
    first. Volume in base units: `vol` on spot, `volCcy` on swaps (`vol` is contracts). A bar
    is closed when `confirm` is "1" (rows without it: once its minute has passed)."""

    def row_to_kline(row: Any) -> Kline:
        start = epoch_ms(row[0])
        closed = row[8] == "1" if len(row) > 8 else start + 60_000 <= recv_ms
        ohlcv = [*row[1:5], row[5] if spot else row[6]]
        return minute_bar(head, recv_ms, start, ohlcv, closed)

    return sorted(data_rows(payload, row_to_kline), key=lambda k: k.open_time_ms)


def funding_interval(row: dict[str, Any], default_h: float) -> float:
    """Hours between `fundingTime` and `nextFundingTime` where both are given, else default."""
    settle, after = row.get("fundingTime"), row.get("nextFundingTime")
    if settle and after and int(after) > int(settle):
        return (int(after) - int(settle)) / HOUR_MS
    return default_h


def parse_funding_history(
    head: Head, payload: Any, recv_ms: int, interval_h: float
) -> list[Funding]:
    """Rows `{fundingRate, realizedRate, fundingTime}`, newest first -> oldest first; ts_ms is
    the settlement time, the rate the one set for it."""

    def row_to_funding(row: Any) -> Funding:
        settle = epoch_ms(row["fundingTime"])
        return build.funding(head, ts_ms=settle, recv_ms=recv_ms,
                             funding_rate=rate(row["fundingRate"]),
                             funding_interval_h=interval_h)  # fmt: skip

    return sorted(data_rows(payload, row_to_funding), key=lambda f: f.ts_ms)


def parse_current_funding(
    head: Head, payload: Any, recv_ms: int, default_h: float
) -> list[Funding]:
    """`/public/funding-rate` row: the current rate, its settlement time (`fundingTime`) and
    the interval up to `nextFundingTime`; ts_ms is the row's `ts`."""

    def row_to_funding(row: Any) -> Funding:
        settle = epoch_ms(row["fundingTime"])
        return build.funding(head, ts_ms=epoch_ms(row["ts"]), recv_ms=recv_ms,
                             funding_rate=rate(row["fundingRate"]),
                             funding_interval_h=funding_interval(row, default_h),
                             next_funding_time_ms=settle)  # fmt: skip

    return data_rows(payload, row_to_funding)


def _usd(value: Any) -> float | None:
    return None if value in (None, "") else qty(value)


def parse_current_open_interest(head: Head, payload: Any, recv_ms: int) -> list[OpenInterest]:
    """`/public/open-interest` rows `{oi (contracts), oiCcy, oiUsd, ts}`."""

    def row_to_oi(row: Any) -> OpenInterest:
        return build.open_interest(head, ts_ms=epoch_ms(row["ts"]), recv_ms=recv_ms,
                                   open_interest=qty(row["oi"]),
                                   open_interest_usd=_usd(row.get("oiUsd")))  # fmt: skip

    return data_rows(payload, row_to_oi)


def parse_open_interest_history(head: Head, payload: Any, recv_ms: int) -> list[OpenInterest]:
    """Rubik rows `[ts, oi (contracts), oiCcy, oiUsd]`, newest first -> oldest first."""

    def row_to_oi(row: Any) -> OpenInterest:
        return build.open_interest(
            head,
            ts_ms=epoch_ms(row[0]),
            recv_ms=recv_ms,
            open_interest=qty(row[1]),
            open_interest_usd=_usd(row[3] if len(row) > 3 else None),
        )

    return sorted(data_rows(payload, row_to_oi), key=lambda r: r.ts_ms)
