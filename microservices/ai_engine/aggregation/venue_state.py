"""Latest observations of one (symbol, venue): ticker, trade, kline, funding, open interest.

Owns the per-record fold that runs on the hot path (`VenueState.apply`, O(1), no per-call
allocation beyond the record itself) and the venue price rule. Pure: no I/O, no clock reads.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Final

from microservices.ai_engine.aggregation.book_quote import BookQuote
from microservices.common.book_schema import BookTop
from microservices.common.records import (
    Funding,
    Kline,
    Market,
    OpenInterest,
    RawRecord,
    Ticker,
    Trade,
)

# Trades are summed into buckets of this width (ms) so memory stays bounded at
# volume_window_ms / VOLUME_BUCKET_MS entries per venue however busy the venue is.
VOLUME_BUCKET_MS: Final = 100
_NEVER: Final = -1  # "no record of this kind yet" for *_ts / *_recv fields
TopQuote = tuple[float, float, float, float, int]  # bid, ask, bid_size, ask_size, recv_ms


def _is_price(value: float) -> bool:
    """Finite and > 0 (NaN fails both comparisons)."""
    return 0.0 < value < math.inf


class RollingVolume:
    """Sum of trade sizes whose exchange time lies within the last `window_ms`.

    Trades must arrive in non-decreasing `ts_ms` (VenueState guarantees it). A trade counts
    at the start of its VOLUME_BUCKET_MS bucket; a bucket leaves the window once its start is
    <= reference - window_ms, where the reference is the newest trade (on `add`) or `now_ms`
    (on `total`). Buckets already evicted never come back: a trade at or before the eviction
    cutoff is ignored, so re-delivery cannot resurrect volume.
    """

    __slots__ = ("_cutoff", "_sizes", "_sum", "_times", "_window_ms")

    def __init__(self, window_ms: int) -> None:
        self._window_ms = window_ms
        self._times: deque[int] = deque()
        self._sizes: deque[float] = deque()
        self._sum = 0.0
        self._cutoff = _NEVER

    def add(self, ts_ms: int, size: float) -> None:
        bucket = ts_ms - ts_ms % VOLUME_BUCKET_MS
        if bucket <= self._cutoff:
            return
        times = self._times
        if times and times[-1] == bucket:
            self._sizes[-1] += size
        else:
            times.append(bucket)
            self._sizes.append(size)
        self._sum += size
        if times[0] <= bucket - self._window_ms:
            self._evict(bucket - self._window_ms)

    def total(self, now_ms: int) -> float:
        """Volume in (now_ms - window_ms, ...]; evicts older buckets (now_ms must not decrease)."""
        self._evict(now_ms - self._window_ms)
        return max(self._sum, 0.0)

    def _evict(self, cutoff: int) -> None:
        if cutoff <= self._cutoff:
            return
        self._cutoff = cutoff
        times, sizes = self._times, self._sizes
        while times and times[0] <= cutoff:
            times.popleft()
            self._sum -= sizes.popleft()
        if not times:
            self._sum = 0.0  # drop float residue of the running sum


class VenueState:
    """Latest state of one venue for one symbol.

    Every kind keeps its own `*_ts` (exchange time of the held record): a record whose
    `ts_ms` is older than the held one of the same kind is ignored; an equal one replaces it
    only when its values differ (an identical one is a re-delivery and keeps the first receive
    time). So late or duplicate delivery never moves the state backwards and re-applying the
    same records is idempotent. Trades additionally de-duplicate by `trade_id` among trades
    with the newest `ts_ms`, so a re-delivered trade is not counted twice in the volume.
    `last_seen_ms` is the newest `recv_ms` of any record (including liquidations) or book
    entry, for /health. `book` is the latest `exchange.orderbook` entry (None before one).
    """

    __slots__ = (
        "ask",
        "ask_size",
        "bid",
        "bid_size",
        "book",
        "funding_interval_h",
        "funding_rate",
        "funding_recv",
        "funding_ts",
        "kline_close",
        "kline_recv",
        "kline_ts",
        "last_seen_ms",
        "mark_price",
        "market",
        "oi",
        "oi_recv",
        "oi_ts",
        "oi_usd",
        "quote",
        "symbol",
        "ticker_recv",
        "ticker_ts",
        "trade_ids",
        "trade_price",
        "trade_recv",
        "trade_ts",
        "volume",
    )

    def __init__(self, market: Market, volume_window_ms: int) -> None:
        self.market: Market = market
        self.symbol = self.quote = ""  # the instrument's canonical name and quote (the last seen)
        self.mark_price: float | None = None  # from the latest funding record that had one
        self.last_seen_ms = _NEVER
        self.ticker_ts = self.ticker_recv = _NEVER
        self.bid = self.ask = self.bid_size = self.ask_size = 0.0
        self.trade_ts = self.trade_recv = _NEVER
        self.trade_price = 0.0
        self.trade_ids: set[str] = set()
        self.kline_ts = self.kline_recv = _NEVER
        self.kline_close = 0.0
        self.funding_ts = self.funding_recv = _NEVER
        self.funding_rate = 0.0
        self.funding_interval_h = 8.0
        self.oi_ts = self.oi_recv = _NEVER
        self.oi = 0.0
        self.oi_usd: float | None = None
        self.volume = RollingVolume(volume_window_ms)
        self.book: BookQuote | None = None

    def apply(self, record: RawRecord) -> bool:
        """Fold one record; True when the held state changed (False: late, duplicate, invalid)."""
        if record.recv_ms > self.last_seen_ms:
            self.last_seen_ms = record.recv_ms
        if isinstance(record, Ticker):
            return self._apply_ticker(record)
        if isinstance(record, Trade):
            return self._apply_trade(record)
        if isinstance(record, Kline):
            return self._apply_kline(record)
        if isinstance(record, Funding):
            return self._apply_funding(record)
        if isinstance(record, OpenInterest):
            return self._apply_open_interest(record)
        return False  # liquidations carry no venue state

    def apply_book(self, top: BookTop) -> bool:
        """Fold one `exchange.orderbook` entry (BookQuote.apply); True when the book changed."""
        if top.recv_ms > self.last_seen_ms:
            self.last_seen_ms = top.recv_ms
        if self.book is None:
            self.book = BookQuote()
        return self.book.apply(top)

    def top_quote(self) -> TopQuote | None:
        """The newer of the ticker and the book top, by receive time (the book wins a tie: it
        carries depth); None before either."""
        book = self.book
        if book is not None and book.recv_ms >= self.ticker_recv:
            return book.bid, book.ask, book.bid_size, book.ask_size, book.recv_ms
        if self.ticker_recv != _NEVER:
            return self.bid, self.ask, self.bid_size, self.ask_size, self.ticker_recv
        return None

    def _apply_ticker(self, rec: Ticker) -> bool:
        # A one-sided or locally crossed book is not a usable quote (schemas reject it too).
        if rec.ts_ms < self.ticker_ts or not (_is_price(rec.bid) and rec.bid <= rec.ask < math.inf):
            return False
        if rec.ts_ms == self.ticker_ts and (rec.bid, rec.ask, rec.bid_size, rec.ask_size) == (
            self.bid,
            self.ask,
            self.bid_size,
            self.ask_size,
        ):
            return False  # re-delivery: keep the first receive time
        self.ticker_ts = rec.ts_ms
        self.ticker_recv = rec.recv_ms
        self.bid, self.ask = rec.bid, rec.ask
        self.bid_size, self.ask_size = rec.bid_size, rec.ask_size
        self.market = rec.market
        return True

    def _apply_trade(self, rec: Trade) -> bool:
        ts = rec.ts_ms
        if ts < self.trade_ts or not _is_price(rec.price):
            return False
        if ts == self.trade_ts:
            if rec.trade_id in self.trade_ids:
                return False
        else:
            self.trade_ids.clear()
            self.trade_ts = ts
        self.trade_ids.add(rec.trade_id)
        self.trade_price = rec.price
        self.trade_recv = rec.recv_ms
        self.market = rec.market
        if 0.0 <= rec.size < math.inf:
            self.volume.add(ts, rec.size)
        return True

    def _apply_kline(self, rec: Kline) -> bool:
        if rec.ts_ms < self.kline_ts or not _is_price(rec.close):
            return False
        if rec.ts_ms == self.kline_ts and rec.close == self.kline_close:
            return False
        self.kline_ts = rec.ts_ms
        self.kline_recv = rec.recv_ms
        self.kline_close = rec.close
        return True

    def _apply_funding(self, rec: Funding) -> bool:
        if rec.ts_ms < self.funding_ts or not (
            math.isfinite(rec.funding_rate) and 0.0 < rec.funding_interval_h < math.inf
        ):
            return False
        if rec.ts_ms == self.funding_ts and (rec.funding_rate, rec.funding_interval_h) == (
            self.funding_rate,
            self.funding_interval_h,
        ):
            return False
        self.funding_ts = rec.ts_ms
        self.funding_recv = rec.recv_ms
        self.funding_rate = rec.funding_rate
        self.funding_interval_h = rec.funding_interval_h
        if rec.mark_price is not None and _is_price(rec.mark_price):
            self.mark_price = rec.mark_price
        self.market = "perp"  # only perpetuals fund
        return True

    def _apply_open_interest(self, rec: OpenInterest) -> bool:
        if rec.ts_ms < self.oi_ts or not 0.0 <= rec.open_interest < math.inf:
            return False
        if (rec.ts_ms, rec.open_interest, rec.open_interest_usd) == (
            self.oi_ts,
            self.oi,
            self.oi_usd,
        ):
            return False
        self.oi_ts = rec.ts_ms
        self.oi_recv = rec.recv_ms
        self.oi = rec.open_interest
        usd = rec.open_interest_usd
        self.oi_usd = usd if usd is not None and 0.0 <= usd < math.inf else None
        return True

    def price_observation(self) -> tuple[float, int] | None:
        """(price, recv_ms of its source) by the venue price rule, or None without prices.

        Rule: the mid of the top quote (the newer of ticker and book, `top_quote`) if its
        recv_ms >= the last trade's recv_ms, else the last trade price, else (neither exists)
        the last kline close.
        """
        top = self.top_quote()
        if top is not None and top[4] >= self.trade_recv:
            return (top[0] + top[1]) * 0.5, top[4]
        if self.trade_recv != _NEVER:
            return self.trade_price, self.trade_recv
        if self.kline_recv != _NEVER:
            return self.kline_close, self.kline_recv
        return None

    def funding_8h_pct(self) -> float:
        """Funding as percent per 8 hours: rate (fraction per interval) * 100 * 8 / interval_h.

        E.g. 0.00005 per 4 h settlement -> 0.01 (%/8h); 0.0001 per 8 h -> 0.01.
        """
        return self.funding_rate * 800.0 / self.funding_interval_h

    def open_interest_usd(self, price: float) -> float | None:
        """Reported USD open interest, else contracts * `price`; None before any OI record."""
        if self.oi_ts == _NEVER:
            return None
        if self.oi_usd is not None:
            return self.oi_usd
        return self.oi * price

    def has_volume(self) -> bool:
        return self.trade_ts != _NEVER
