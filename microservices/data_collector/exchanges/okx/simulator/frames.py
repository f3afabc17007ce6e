"""OKX v5 payloads in the simulator: number formats (swap sizes in contracts of one quantity
step each), the data frames of every channel and the `books` view (snapshot, then updates
with `seqId`/`prevSeqId` and the CRC32 checksum of the top 25 levels). The view and sequence
of a book are shared by every client of the server, like the venue's one stream. No sockets.
"""

from __future__ import annotations

from typing import Any, Final

from microservices.data_collector.exchanges.okx.book import CHECKED_LEVELS, DEPTH, checksum
from microservices.exchange_simulator.bars import Bar
from microservices.exchange_simulator.events import unit
from microservices.exchange_simulator.market import Liquidation, MarketModel, Trade
from microservices.exchange_simulator.venues.base import fmt

View = tuple[dict[int, float], dict[int, float]]  # bids, asks: ticks -> size (base units)
Rows = list[list[str]]
SNAPSHOT_PREV: Final = -1  # prevSeqId of a snapshot


def rate_text(rate: float) -> str:
    """OKX writes rates without trailing zeros: 0.0001, -0.00005."""
    text = f"{rate:.10f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def frame(channel: str, inst_id: str, data: list[Any], **extra: Any) -> dict[str, Any]:
    return {"arg": {"channel": channel, "instId": inst_id}, **extra, "data": data}


class OkxFormat:
    """Prices at the instrument tick; a swap contract is one quantity step of the base."""

    def __init__(self, market: MarketModel, market_venue: str, swap: bool) -> None:
        self.market, self.venue, self.swap = market, market_venue, swap

    def price(self, symbol: str, value: float) -> str:
        return fmt(value, self.market.instruments[symbol].price_dp)

    def size(self, symbol: str, base_units: float) -> str:
        """Base units as sent: swap contracts (whole, at least 1), spot base units."""
        inst = self.market.instruments[symbol]
        if self.swap:
            return str(max(1, round(base_units / inst.step)))
        return fmt(base_units, inst.qty_dp + 3)

    def contract_value(self, symbol: str) -> str:
        inst = self.market.instruments[symbol]
        return fmt(inst.step, inst.qty_dp)

    def trade(self, ev: Trade, inst_id: str) -> dict[str, Any]:
        px = self.price(ev.symbol, ev.price)
        row = {"instId": inst_id, "tradeId": str(ev.trade_id), "px": px,
               "sz": self.size(ev.symbol, ev.qty), "side": "buy" if ev.taker_buy else "sell",
               "ts": str(ev.ts_ms), "count": "1"}  # fmt: skip
        return frame("trades", inst_id, [row])

    def ticker_row(self, symbol: str, inst_id: str, now: int) -> dict[str, str]:
        p, s = self.price, symbol
        book = self.market.book(self.venue, s)
        base_volume = book.volume_24h
        return {
            "instType": "SWAP" if self.swap else "SPOT", "instId": inst_id,
            "last": p(s, book.last_price), "lastSz": self.size(s, book.last_qty),
            "askPx": p(s, book.ask), "askSz": self.size(s, book.ask_qty),
            "bidPx": p(s, book.bid), "bidSz": self.size(s, book.bid_qty),
            "open24h": p(s, book.open_24h), "high24h": p(s, book.high_24h),
            "low24h": p(s, book.low_24h), "sodUtc0": p(s, book.open_24h),
            "sodUtc8": p(s, book.open_24h),
            "volCcy24h": fmt(base_volume if self.swap else book.turnover_24h, 4),
            "vol24h": self.size(s, base_volume) if self.swap else fmt(base_volume, 6),
            "ts": str(now),
        }  # fmt: skip

    def candle_row(self, symbol: str, bar: Bar, closed: bool) -> list[str]:
        """[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm] (swap vol: contracts)."""
        p, s = self.price, symbol
        vol = self.size(s, bar.volume) if self.swap else fmt(bar.volume, 6)
        base = fmt(bar.volume, 6) if self.swap else fmt(bar.quote_volume, 4)
        return [str(bar.open_ms), p(s, bar.open), p(s, bar.high), p(s, bar.low),
                p(s, bar.close), vol, base, fmt(bar.quote_volume, 4),
                "1" if closed else "0"]  # fmt: skip

    def price_candle_row(self, symbol: str, bar: Bar, price: float, closed: bool) -> list[str]:
        """The index or mark candle of a minute (the simulator's price, flat)."""
        text = self.price(symbol, price)
        return [str(bar.open_ms), text, text, text, text, "1" if closed else "0"]

    def liquidation(self, ev: Liquidation, inst_id: str, uly: str) -> dict[str, Any]:
        detail = {"bkLoss": "0", "bkPx": self.price(ev.symbol, ev.price), "ccy": "",
                  "posSide": "long" if ev.long_liquidated else "short",
                  "side": "sell" if ev.long_liquidated else "buy",
                  "sz": self.size(ev.symbol, ev.qty), "ts": str(ev.ts_ms)}  # fmt: skip
        item = {"details": [detail], "instFamily": uly, "instId": inst_id, "instType": "SWAP",
                "uly": uly}  # fmt: skip
        return {"arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "data": [item]}


class OkxBooks:
    """The published view and sequence id of every subscribed `books` key."""

    def __init__(self, fmt_: OkxFormat) -> None:
        self.fmt, self.market, self.venue = fmt_, fmt_.market, fmt_.venue
        self._views: dict[str, View] = {}
        self._seq: dict[str, int] = {}

    def forget(self, key: str) -> None:
        """Nobody follows the book: its next subscriber starts from a fresh snapshot."""
        self._views.pop(key, None)

    def _view(self, symbol: str) -> View:
        bids, asks = self.market.depth(self.venue, symbol).top(DEPTH)
        return dict(bids), dict(asks)

    def snapshot(self, key: str, inst_id: str, symbol: str, ts: int) -> dict[str, Any]:
        view = self._views[key] = self._view(symbol)
        seq = self._seq.setdefault(key, 10_000 + int(unit(self.venue + key) * 1e8))
        bids = sorted(view[0].items(), reverse=True)
        asks = sorted(view[1].items())
        rows = self._rows(symbol, bids), self._rows(symbol, asks)
        return self._frame("snapshot", inst_id, ts, seq, SNAPSHOT_PREV, rows, view, symbol)

    def update(self, key: str, inst_id: str, symbol: str, ts: int) -> dict[str, Any] | None:
        """The changes of the view since the last frame, or None when it did not change."""
        old = self._views.get(key)
        if old is None:
            return None  # not snapshotted yet: initial_frames sends the snapshot
        new = self._views[key] = self._view(symbol)
        bids = sorted(_changes(old[0], new[0]).items(), reverse=True)
        asks = sorted(_changes(old[1], new[1]).items())
        if not bids and not asks:
            return None
        prev = self._seq[key]
        seq = self._seq[key] = prev + 1 + int(unit(f"{key}{prev}") * 5)  # ids are not +1
        rows = self._rows(symbol, bids), self._rows(symbol, asks)
        return self._frame("update", inst_id, ts, seq, prev, rows, new, symbol)

    def _frame(
        self, action: str, inst_id: str, ts: int, seq: int, prev: int, rows: tuple[Rows, Rows],
        view: View, symbol: str,
    ) -> dict[str, Any]:  # fmt: skip
        top_bids = sorted(view[0].items(), reverse=True)[:CHECKED_LEVELS]
        top_asks = sorted(view[1].items())[:CHECKED_LEVELS]
        crc = checksum(self._texts(symbol, top_bids), self._texts(symbol, top_asks))
        data = {"asks": rows[1], "bids": rows[0], "ts": str(ts), "checksum": crc,
                "prevSeqId": prev, "seqId": seq}  # fmt: skip
        return frame("books", inst_id, [data], action=action)

    def _rows(self, symbol: str, levels: list[tuple[int, float]]) -> Rows:
        tick = self.market.instruments[symbol].tick
        out: Rows = []
        for ticks, size in levels:
            text = self.fmt.size(symbol, size) if size else "0"
            out.append([self.fmt.price(symbol, ticks * tick), text, "0", "1" if size else "0"])
        return out

    def _texts(self, symbol: str, levels: list[tuple[int, float]]) -> list[str]:
        return [f"{row[0]}:{row[1]}" for row in self._rows(symbol, levels)]


def _changes(old: dict[int, float], new: dict[int, float]) -> dict[int, float]:
    """Levels whose size differs (0.0: left the view)."""
    changed = {t: q for t, q in new.items() if old.get(t) != q}
    changed.update((t, 0.0) for t in old if t not in new)
    return changed
