"""Bybit v5 payloads: number formats, trade/kline/book/liquidation frames and the tickers.

Linear tickers are pushed as one `snapshot` then `delta`s holding only the changed fields;
the delta state is shared by every client of the server, so a new client's snapshot repeats
the last pushed state and the next delta brings everybody up to date. Spot tickers are
snapshots only. No sockets here.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from microservices.exchange_simulator.bars import MINUTE_MS
from microservices.exchange_simulator.book import VenueBook
from microservices.exchange_simulator.market import (
    BarUpdate,
    Liquidation,
    MarketModel,
    Trade,
)
from microservices.exchange_simulator.venues.base import fmt

TICKER_PUSH_MS: Final = 100  # derivatives tickers are pushed every 100 ms at most
_UUID_MIX: Final = 0x9E3779B97F4A7C15F39CC0605CEDC835


def rate_text(rate: float) -> str:
    """Bybit writes rates without trailing zeros: 0.0001, -0.005."""
    text = f"{rate:.8f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def trade_uuid(trade_id: int) -> str:
    return str(uuid.UUID(int=(trade_id * _UUID_MIX) & ((1 << 128) - 1)))


class BybitFormat:
    """Prices at the instrument tick; spot sizes carry three more decimals than linear."""

    def __init__(self, market: MarketModel, market_venue: str, spot: bool) -> None:
        self.market, self.market_venue, self.spot = market, market_venue, spot

    def price(self, symbol: str, value: float) -> str:
        return fmt(value, self.market.instruments[symbol].price_dp)

    def qty(self, symbol: str, value: float) -> str:
        return fmt(value, self.market.instruments[symbol].qty_dp + (3 if self.spot else 0))

    def trade_row(self, ev: Trade, sym: str, tick_direction: str | None) -> dict[str, Any]:
        row: dict[str, Any] = {
            "T": ev.ts_ms,
            "s": sym,
            "S": "Buy" if ev.taker_buy else "Sell",
            "v": self.qty(ev.symbol, ev.qty),
            "p": self.price(ev.symbol, ev.price),
        }
        if tick_direction is None:  # spot: numeric ids, no tick direction
            row.update(i=str(2_290_000_000_000_000_000 + ev.trade_id), BT=False)
        else:
            row.update(L=tick_direction, i=trade_uuid(ev.trade_id), BT=False)
        row["seq"] = ev.seq
        return row

    def kline(self, key: str, ev: BarUpdate) -> dict[str, Any]:
        b, s = ev.bar, ev.symbol
        row = {
            "start": b.open_ms,
            "end": b.open_ms + MINUTE_MS - 1,
            "interval": "1",
            "open": self.price(s, b.open),
            "close": self.price(s, b.close),
            "high": self.price(s, b.high),
            "low": self.price(s, b.low),
            "volume": self.qty(s, b.volume),
            "turnover": fmt(b.quote_volume, 4),
            "confirm": ev.closed,
            "timestamp": ev.ts_ms,
        }
        return {"topic": key, "data": [row], "ts": ev.ts_ms, "type": "snapshot"}

    def book(self, key: str, sym: str, book: VenueBook, ts: int, update_id: int) -> dict[str, Any]:
        s = book.symbol
        data = {
            "s": sym,
            "b": [[self.price(s, book.bid), self.qty(s, book.bid_qty)]],
            "a": [[self.price(s, book.ask), self.qty(s, book.ask_qty)]],
            "u": update_id,
            "seq": book.seq,
        }
        return {"topic": key, "type": "snapshot", "ts": ts, "data": data, "cts": ts}

    def liquidation(self, key: str, sym: str, ev: Liquidation) -> dict[str, Any]:
        row = {
            "T": ev.ts_ms,
            "s": sym,
            "S": "Buy" if ev.long_liquidated else "Sell",
            "v": self.qty(ev.symbol, ev.qty),
            "p": self.price(ev.symbol, ev.price),
        }
        return {"topic": key, "type": "snapshot", "ts": ev.ts_ms, "data": [row]}


class LinearTickers:
    """tickers.{symbol} of the linear perpetuals: snapshot, then deltas."""

    def __init__(self, fmt_: BybitFormat, venue_syms: dict[str, str]) -> None:
        self.fmt, self.market, self.venue = fmt_, fmt_.market, fmt_.market_venue
        self.venue_syms = venue_syms
        self.pushed: dict[str, dict[str, str]] = {}  # last pushed ticker per symbol
        self.pushed_ms: dict[str, int] = {}
        self._last_trade: dict[str, tuple[float, str]] = {}
        self._prev_1h: dict[str, tuple[int, float]] = {}

    def due(self, symbol: str, ts: int) -> bool:
        return ts - self.pushed_ms.get(symbol, 0) >= TICKER_PUSH_MS

    def tick_direction(self, symbol: str, price: float) -> str:
        prev_price, prev_dir = self._last_trade.get(symbol, (price, "ZeroPlusTick"))
        if price != prev_price:
            direction = "PlusTick" if price > prev_price else "MinusTick"
        else:
            direction = "ZeroPlusTick" if "Plus" in prev_dir else "ZeroMinusTick"
        self._last_trade[symbol] = (price, direction)
        return direction

    def fields(self, symbol: str, now: int) -> dict[str, str]:
        """The full ticker (WS snapshot; REST rows add a few fields)."""
        p, q, s = self.fmt.price, self.fmt.qty, symbol
        book = self.market.book(self.venue, s)
        pcnt = (book.last_price - book.open_24h) / book.open_24h if book.open_24h else 0.0
        oi = self.market.open_interest(self.venue, s, now)
        return {
            "symbol": self.venue_syms[s],
            "tickDirection": self._last_trade.get(s, (0.0, "PlusTick"))[1],
            "price24hPcnt": fmt(pcnt, 6),
            "lastPrice": p(s, book.last_price),
            "prevPrice24h": p(s, book.open_24h),
            "highPrice24h": p(s, book.high_24h),
            "lowPrice24h": p(s, book.low_24h),
            "prevPrice1h": p(s, self._prev_hour(s, now)),
            "markPrice": p(s, book.mid),
            "indexPrice": p(s, self.market.true_price(s)),
            "openInterest": fmt(oi, book.inst.qty_dp),
            "openInterestValue": fmt(oi * book.mid, 2),
            "turnover24h": fmt(book.turnover_24h, 4),
            "volume24h": fmt(book.volume_24h, 4),
            "fundingIntervalHour": str(self.market.funding_interval_h(self.venue, s)),
            "fundingCap": "0.005",
            "nextFundingTime": str(self.market.next_funding_ms(self.venue, s, now)),
            "fundingRate": rate_text(self.market.funding_rate(self.venue, s)),
            "bid1Price": p(s, book.bid),
            "bid1Size": q(s, book.bid_qty),
            "ask1Price": p(s, book.ask),
            "ask1Size": q(s, book.ask_qty),
            "preOpenPrice": "",
            "preQty": "",
            "curPreListingPhase": "",
        }

    def _prev_hour(self, symbol: str, now: int) -> float:
        minute = now // MINUTE_MS
        cached = self._prev_1h.get(symbol)
        if cached is None or cached[0] != minute:
            bars = self.market.book(self.venue, symbol).bars
            cached = self._prev_1h[symbol] = (minute, bars.price_at(now - 3_600_000))
        return cached[1]

    def frame(self, symbol: str, now: int, first: bool) -> dict[str, Any] | None:
        """The snapshot (first) or a delta of the changed fields (None when nothing changed)."""
        topic = f"tickers.{self.venue_syms[symbol]}"
        cs = self.market.book(self.venue, symbol).seq
        state = self.pushed.get(symbol)
        self.pushed_ms[symbol] = now
        if first:
            if state is None:
                state = self.pushed[symbol] = self.fields(symbol, now)
            return {"topic": topic, "type": "snapshot", "data": dict(state), "cs": cs, "ts": now}
        full = self.pushed[symbol] = self.fields(symbol, now)
        changed = {k: v for k, v in full.items() if state is None or state.get(k) != v}
        if not changed:
            return None
        data = {"symbol": full["symbol"], **changed}
        return {"topic": topic, "type": "delta", "data": data, "cs": cs, "ts": now}


class SpotTickers(LinearTickers):
    """Spot tickers: always full snapshots."""

    def fields(self, symbol: str, now: int) -> dict[str, str]:
        p, s = self.fmt.price, symbol
        book = self.market.book(self.venue, s)
        pcnt = (book.last_price - book.open_24h) / book.open_24h if book.open_24h else 0.0
        return {
            "symbol": self.venue_syms[s],
            "lastPrice": p(s, book.last_price),
            "highPrice24h": p(s, book.high_24h),
            "lowPrice24h": p(s, book.low_24h),
            "prevPrice24h": p(s, book.open_24h),
            "volume24h": fmt(book.volume_24h, 6),
            "turnover24h": fmt(book.turnover_24h, 8),
            "price24hPcnt": fmt(pcnt, 4),
            "usdIndexPrice": fmt(self.market.true_price(s), 8),
        }

    def frame(self, symbol: str, now: int, first: bool) -> dict[str, Any] | None:
        self.pushed_ms[symbol] = now
        cs = self.market.book(self.venue, symbol).seq
        return {
            "topic": f"tickers.{self.venue_syms[symbol]}",
            "ts": now,
            "type": "snapshot",
            "cs": cs,
            "data": self.fields(symbol, now),
        }
