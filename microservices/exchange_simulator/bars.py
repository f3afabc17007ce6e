"""1-minute bars: built from trades as they happen, with a synthetic history before the start.

Pure (no I/O, no clock). `BarSeries.query()` answers kline requests of any interval that is a
whole number of minutes, aggregating the 1m bars; `backfill()` makes the history deterministic.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Final, NamedTuple

MINUTE_MS: Final = 60_000


class Bar(NamedTuple):
    open_ms: int  # bar start (epoch ms); the bar closes at open_ms + interval - 1
    open: float
    high: float
    low: float
    close: float
    volume: float  # base units
    quote_volume: float
    trades: int
    first_id: int  # first and last trade id in the bar (0 when the bar has no trades)
    last_id: int
    taker_buy_volume: float
    taker_buy_quote: float


class LiveBar:
    """The still-open bar of one venue and symbol."""

    __slots__ = (
        "close",
        "first_id",
        "high",
        "last_id",
        "low",
        "open",
        "open_ms",
        "quote_volume",
        "taker_buy_quote",
        "taker_buy_volume",
        "trades",
        "volume",
    )

    def __init__(self, open_ms: int, price: float) -> None:
        self.open_ms = open_ms
        self.open = self.high = self.low = self.close = price
        self.volume = self.quote_volume = self.taker_buy_volume = self.taker_buy_quote = 0.0
        self.trades = self.first_id = self.last_id = 0

    def add_trade(self, price: float, qty: float, taker_buy: bool, trade_id: int) -> None:
        self.touch(price)
        self.volume += qty
        self.quote_volume += qty * price
        if taker_buy:
            self.taker_buy_volume += qty
            self.taker_buy_quote += qty * price
        if not self.trades:
            self.first_id = trade_id
        self.last_id = trade_id
        self.trades += 1

    def touch(self, price: float) -> None:
        self.close = price
        if price > self.high:
            self.high = price
        elif price < self.low:
            self.low = price

    def freeze(self) -> Bar:
        return Bar(
            self.open_ms,
            self.open,
            self.high,
            self.low,
            self.close,
            self.volume,
            self.quote_volume,
            self.trades,
            self.first_id,
            self.last_id,
            self.taker_buy_volume,
            self.taker_buy_quote,
        )


class BarSeries:
    """History (built lazily) + closed live bars + the open bar, all 1m and contiguous."""

    def __init__(
        self, open_ms: int, price: float, history: Callable[[], list[Bar]], max_closed: int
    ) -> None:
        self.current = LiveBar(open_ms - open_ms % MINUTE_MS, price)
        self.closed: deque[Bar] = deque(maxlen=max_closed)
        self._history_factory = history
        self._history: list[Bar] | None = None

    @property
    def history(self) -> list[Bar]:
        if self._history is None:
            self._history = self._history_factory()
        return self._history

    def roll(self, ts_ms: int) -> list[Bar]:
        """Close the open bar (and empty ones after it) if `ts_ms` is past its minute."""
        done: list[Bar] = []
        bar = self.current
        while ts_ms >= bar.open_ms + MINUTE_MS:
            frozen = bar.freeze()
            self.closed.append(frozen)
            done.append(frozen)
            next_open = bar.open_ms + MINUTE_MS
            if len(done) >= (self.closed.maxlen or 1):  # a long gap: skip the empty minutes
                next_open = ts_ms - ts_ms % MINUTE_MS
            bar = self.current = LiveBar(next_open, frozen.close)
        return done

    def all_bars(self) -> list[Bar]:
        live = [*self.closed, self.current.freeze()]
        first_live = live[0].open_ms
        history = [b for b in self.history if b.open_ms < first_live]
        return history + live

    def query(
        self, interval_ms: int, start_ms: int | None, end_ms: int | None, limit: int
    ) -> list[Bar]:
        """Bars of `interval_ms` (ascending), Binance semantics: from `start_ms` forward when
        given, else the latest `limit` ending at `end_ms` (or now)."""
        bars = self.all_bars()
        if interval_ms != MINUTE_MS:
            bars = aggregate(bars, interval_ms)
        if start_ms is not None:
            bars = bars[bisect.bisect_left([b.open_ms for b in bars], start_ms) :]
        if end_ms is not None:
            bars = [b for b in bars if b.open_ms <= end_ms]
        return bars[:limit] if start_ms is not None else bars[-limit:]

    def price_at(self, ts_ms: int) -> float:
        """Close of the 1m bar containing `ts_ms` (clamped to the known range)."""
        bars = self.all_bars()
        index = bisect.bisect_right([b.open_ms for b in bars], ts_ms) - 1
        return bars[max(index, 0)].close


def aggregate(bars: Iterable[Bar], interval_ms: int) -> list[Bar]:
    """Merge contiguous 1m bars into bars aligned on multiples of `interval_ms`."""
    out: list[Bar] = []
    for bar in bars:
        start = bar.open_ms - bar.open_ms % interval_ms
        if out and out[-1].open_ms == start:
            prev = out[-1]
            out[-1] = Bar(
                start,
                prev.open,
                max(prev.high, bar.high),
                min(prev.low, bar.low),
                bar.close,
                prev.volume + bar.volume,
                prev.quote_volume + bar.quote_volume,
                prev.trades + bar.trades,
                prev.first_id or bar.first_id,
                bar.last_id or prev.last_id,
                prev.taker_buy_volume + bar.taker_buy_volume,
                prev.taker_buy_quote + bar.taker_buy_quote,
            )
        else:
            out.append(bar._replace(open_ms=start))
    return out


def backfill(
    rng: random.Random,
    end_ms: int,
    end_price: float,
    minutes: int,
    sigma_per_minute: float,
    volume_per_minute: float,
    trades_per_minute: float,
) -> list[Bar]:
    """`minutes` 1m bars ending just before the minute of `end_ms`, closing at `end_price`.

    The path is a random walk run backwards from the end price, so the live market continues it
    without a jump. Trade ids are 0 (history carries no ids); `trades` is a plausible count."""
    first_open = end_ms - end_ms % MINUTE_MS - minutes * MINUTE_MS
    closes = [end_price]
    for _ in range(minutes):
        closes.append(closes[-1] * math.exp(-sigma_per_minute * rng.gauss(0.0, 1.0)))
    closes.reverse()  # closes[i] = close of bar i - 1 = open of bar i
    bars: list[Bar] = []
    for i in range(minutes):
        o, c = closes[i], closes[i + 1]
        wick = abs(rng.gauss(0.0, sigma_per_minute)) * 0.5
        volume = volume_per_minute * math.exp(rng.gauss(0.0, 0.5))
        mean = (o + c) / 2
        buy = volume * rng.uniform(0.35, 0.65)
        trades = max(1, int(trades_per_minute * volume / volume_per_minute))
        bars.append(
            Bar(
                first_open + i * MINUTE_MS,
                o,
                max(o, c) * (1 + wick),
                min(o, c) * (1 - wick),
                c,
                volume,
                volume * mean,
                trades,
                0,
                0,
                buy,
                buy * mean,
            )
        )
    return bars


def scale(bars: Sequence[Bar], price_factor: float, volume_factor: float) -> list[Bar]:
    """The same bars seen by a venue with a basis and its own share of the volume."""
    k, v = price_factor, volume_factor
    return [
        Bar(
            b.open_ms,
            b.open * k,
            b.high * k,
            b.low * k,
            b.close * k,
            b.volume * v,
            b.quote_volume * v * k,
            max(1, int(b.trades * v)),
            0,
            0,
            b.taker_buy_volume * v,
            b.taker_buy_quote * v * k,
        )
        for b in bars
    ]


def boundaries(
    step_ms: int, start_ms: int | None, end_ms: int | None, limit: int, now_ms: int
) -> list[int]:
    """Ascending multiples of `step_ms` within [start, min(end, now)]: the first `limit` from
    `start_ms` when given, else the latest `limit` (funding times, open-interest samples)."""
    last = now_ms if end_ms is None else min(end_ms, now_ms)
    last -= last % step_ms
    if start_ms is not None:
        first = -(-start_ms // step_ms) * step_ms
        return list(range(first, last + 1, step_ms))[:limit]
    first = max(last - (limit - 1) * step_ms, 0)
    return list(range(first, last + 1, step_ms))
