"""Bitget v2 payloads for the simulator: number formats, the `trade`, `ticker` and `candle1m`
frames, and the `books` channel (a snapshot of the pair's ladder, then updates of the levels
that changed, each with Bitget's checksum of the top 25 levels). No sockets here.
"""

from __future__ import annotations

from typing import Any, Final

from microservices.data_collector.exchanges.bitget.book import checksum
from microservices.exchange_simulator.depth import Level
from microservices.exchange_simulator.market import BarUpdate, MarketModel, Trade
from microservices.exchange_simulator.venues.base import fmt

BOOK_LEVELS: Final = 200  # levels a side of the `books` view (the ladder has ~300)
TICKER_PUSH_MS: Final = 100  # tickers are pushed at most this often per symbol

View = tuple[dict[int, float], dict[int, float]]  # bids, asks: ticks -> size


def rate_text(rate: float) -> str:
    """Rates without trailing zeros: 0.0001, -0.00005."""
    text = f"{rate:.8f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def data_frame(action: str, arg: dict[str, str], rows: list[Any], ts: int) -> dict[str, Any]:
    return {"action": action, "arg": arg, "data": rows, "ts": ts}


class BitgetFormat:
    """Prices at the instrument tick; spot sizes carry two more decimals than futures."""

    def __init__(self, market: MarketModel, market_venue: str, inst_type: str) -> None:
        self.market, self.venue, self.inst_type = market, market_venue, inst_type
        self.spot = inst_type == "SPOT"

    def price(self, symbol: str, value: float) -> str:
        return fmt(value, self.market.instruments[symbol].price_dp)

    def qty(self, symbol: str, value: float) -> str:
        return fmt(value, self.market.instruments[symbol].qty_dp + (2 if self.spot else 0))

    def arg(self, channel: str, sym: str) -> dict[str, str]:
        return {"instType": self.inst_type, "channel": channel, "instId": sym}

    def trade(self, ev: Trade, sym: str) -> dict[str, Any]:
        row = {"ts": str(ev.ts_ms), "price": self.price(ev.symbol, ev.price),
               "size": self.qty(ev.symbol, ev.qty), "side": "buy" if ev.taker_buy else "sell",
               "tradeId": str(1_235_000_000_000_000_000 + ev.trade_id)}  # fmt: skip
        return data_frame("update", self.arg("trade", sym), [row], ev.ts_ms)

    def candle(self, sym: str, ev: BarUpdate, action: str = "update") -> dict[str, Any]:
        b, s = ev.bar, ev.symbol
        row = [str(b.open_ms), self.price(s, b.open), self.price(s, b.high),
               self.price(s, b.low), self.price(s, b.close), self.qty(s, b.volume),
               fmt(b.quote_volume, 4), fmt(b.quote_volume, 4)]  # fmt: skip
        return data_frame(action, self.arg("candle1m", sym), [row], ev.ts_ms)

    def ticker(self, symbol: str, sym: str, now: int) -> dict[str, Any]:
        """The full ticker (every push carries every field); futures add funding and OI."""
        p, q, s = self.price, self.qty, symbol
        book = self.market.book(self.venue, s)
        change = (book.last_price - book.open_24h) / book.open_24h if book.open_24h else 0.0
        row: dict[str, Any] = {
            "instId": sym, "lastPr": p(s, book.last_price), "open24h": p(s, book.open_24h),
            "high24h": p(s, book.high_24h), "low24h": p(s, book.low_24h),
            "change24h": fmt(change, 5), "bidPr": p(s, book.bid), "askPr": p(s, book.ask),
            "bidSz": q(s, book.bid_qty), "askSz": q(s, book.ask_qty),
            "baseVolume": fmt(book.volume_24h, 4), "quoteVolume": fmt(book.turnover_24h, 4),
            "openUtc": p(s, book.open_24h), "ts": str(now),
        }  # fmt: skip
        if not self.spot:
            market, venue = self.market, self.venue
            row.update(
                fundingRate=rate_text(market.funding_rate(venue, s)),
                nextFundingTime=str(market.next_funding_ms(venue, s, now)),
                markPrice=p(s, book.mid), indexPrice=fmt(market.true_price(s), 8),
                holdingAmount=fmt(market.open_interest(venue, s, now), book.inst.qty_dp),
                symbolType="1", symbol=sym, deliveryPrice="0",
            )  # fmt: skip
        return data_frame("snapshot", self.arg("ticker", sym), [row], now)


class BitgetBooks:
    """The published view of every subscribed `books` key; one stream per key shared by
    every client, like the venue's."""

    def __init__(self, fmt_: BitgetFormat) -> None:
        self.fmt, self.market, self.venue = fmt_, fmt_.market, fmt_.venue
        self._views: dict[str, View] = {}
        self._seq: dict[str, int] = {}

    def forget(self, key: str) -> None:
        """Nobody follows the key: its next subscriber starts from a fresh snapshot."""
        self._views.pop(key, None)

    def _view(self, symbol: str) -> View:
        bids, asks = self.market.depth(self.venue, symbol).top(BOOK_LEVELS)
        return dict(bids), dict(asks)

    def snapshot(self, key: str, sym: str, symbol: str, ts: int) -> dict[str, Any]:
        """The key's last published view (its current one for a first subscriber), checksum
        0 as Bitget's snapshots state it; the next update brings every client up to date."""
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = self._view(symbol)
        bids, asks = sorted(view[0].items(), reverse=True), sorted(view[1].items())
        return self._frame("snapshot", sym, symbol, ts, bids, asks, 0)

    def update(self, key: str, sym: str, symbol: str, ts: int) -> dict[str, Any] | None:
        """The changes of the view since the last frame (None when it did not change), with
        the checksum of the view after them."""
        old = self._views.get(key)
        if old is None:
            return None  # not snapshotted yet: initial_frames sends the snapshot
        new = self._views[key] = self._view(symbol)
        bids = sorted(_changes(old[0], new[0]).items(), reverse=True)
        asks = sorted(_changes(old[1], new[1]).items())
        if not bids and not asks:
            return None
        crc = checksum(
            self._levels(symbol, sorted(new[0].items(), reverse=True)[:25]),
            self._levels(symbol, sorted(new[1].items())[:25]),
        )
        return self._frame("update", sym, symbol, ts, bids, asks, crc)

    def _frame(self, action: str, sym: str, symbol: str, ts: int, bids: list[Level],
               asks: list[Level], crc: int) -> dict[str, Any]:  # fmt: skip
        seq = self._seq[sym] = self._seq.get(sym, 10_000_000) + 1
        row = {"asks": self._levels(symbol, asks), "bids": self._levels(symbol, bids),
               "checksum": crc, "seq": seq, "ts": str(ts)}  # fmt: skip
        return data_frame(action, self.fmt.arg("books", sym), [row], ts)

    def _levels(self, symbol: str, rows: list[Level]) -> list[tuple[str, str]]:
        tick = self.market.instruments[symbol].tick
        price, qty = self.fmt.price, self.fmt.qty
        return [(price(symbol, t * tick), qty(symbol, q) if q else "0") for t, q in rows]


def _changes(old: dict[int, float], new: dict[int, float]) -> dict[int, float]:
    """Levels whose size differs (0.0: left the view)."""
    changed = {t: q for t, q in new.items() if old.get(t) != q}
    changed.update((t, 0.0) for t in old if t not in new)
    return changed
