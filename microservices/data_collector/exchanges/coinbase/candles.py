"""1-minute candles built from Coinbase matches (the ws-feed has no candle channel): only bars
known to hold every trade of their minute are published. Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Final

from microservices.common.records import Kline
from microservices.data_collector.exchanges import _records as build
from microservices.data_collector.exchanges._records import Head

MINUTE_MS: Final = 60_000


class Bar:
    """A 1-minute candle being built from matches."""

    __slots__ = ("close", "complete", "high", "low", "minute_ms", "open", "volume")

    def __init__(self, minute_ms: int, px: float, size: float, complete: bool) -> None:
        self.minute_ms = minute_ms
        self.open = self.high = self.low = self.close = px
        self.volume = size
        # False when the bar may miss trades from before we subscribed (see CandleBuilder)
        self.complete = complete

    def add(self, px: float, size: float) -> None:
        if px > self.high:
            self.high = px
        elif px < self.low:
            self.low = px
        self.close = px
        self.volume += size


class CandleBuilder:
    """1-minute bars per symbol from matches; the first trade of a later minute finishes a bar
    (minutes without trades produce none).

    Only bars known to hold every trade of their minute are published. Coinbase trade ids
    are consecutive per product, so a bar is complete when the trade before its first one is
    from an earlier minute and each later trade, up to the one that finishes the bar,
    directly follows the previous one. The first trade seen (normally `last_match`, the last
    one before we subscribed) only anchors the sequence. Bars we joined mid-minute or that
    span a gap (a reconnect) are dropped and counted as "partial_bar".
    """

    __slots__ = ("_bars", "_newest")

    def __init__(self) -> None:
        self._bars: dict[str, Bar] = {}
        self._newest: dict[str, tuple[int, int]] = {}  # symbol -> (trade id, minute) seen

    def add(
        self, symbol: str, seq: int | None, ts_ms: int, px: float, size: float
    ) -> tuple[Bar | None, str]:
        """Fold one trade in: (finished bar to publish or None, reject reason or "")."""
        minute = ts_ms - ts_ms % MINUTE_MS
        newest = self._newest.get(symbol)
        if seq is not None and (newest is None or seq > newest[0]):
            self._newest[symbol] = (seq, minute)
        if newest is None:
            return None, ""
        follows = seq == newest[0] + 1
        bar = self._bars.get(symbol)
        if bar is not None and minute <= bar.minute_ms:
            if minute < bar.minute_ms:
                return None, "late_trade"
            bar.add(px, size)
            bar.complete = bar.complete and follows
            return None, ""
        self._bars[symbol] = Bar(minute, px, size, follows and newest[1] < minute)
        if bar is None:
            return None, ""
        return (bar, "") if bar.complete and follows else (None, "partial_bar")


def minute_kline(head: Head, bar: Bar, recv_ms: int) -> Kline:
    """The closed 1m Kline of a finished bar (ts_ms = the bar's last millisecond)."""
    return build.kline(
        head,
        ts_ms=bar.minute_ms + MINUTE_MS - 1,
        recv_ms=recv_ms,
        open_time_ms=bar.minute_ms,
        interval="1m",
        open=bar.open,
        high=bar.high,
        low=bar.low,
        close=bar.close,
        volume=round(bar.volume, 10),  # sizes have 8 decimals: drop float-sum noise
        closed=True,
    )
