"""Deribit payloads of the simulator: JSON-RPC notifications of `ticker`, `trades`,
`chart.trades` and `book` (snapshot, then changes chained by `change_id`/`prev_change_id`).

Payloads are built as the USDC-margined linear perpetual's (`BTC_USDC-PERPETUAL` for the
simulated BTCUSDT; `inverse.py` rewrites them for BTC-PERPETUAL): prices and amounts (base
coin) are JSON numbers, as Deribit sends them. A book's view and change id are shared by
every client of the server, like the venue's one stream. No sockets here.
"""

from __future__ import annotations

from typing import Any, Final

from microservices.exchange_simulator.events import unit
from microservices.exchange_simulator.market import (
    BarUpdate,
    Liquidation,
    MarketModel,
    Trade,
)
from microservices.exchange_simulator.naming import sim_base

BOOK_DEPTH: Final = 1000  # the 100 ms book is the whole book (the ladder has ~300 levels)
LIQUIDATION_IDS: Final = 9_000_000_000  # trade ids of simulated liquidation trades

View = tuple[dict[int, float], dict[int, float]]  # bids, asks: ticks -> size


def venue_symbol(symbol: str) -> str:
    """The simulated `BTCUSDT` is Deribit's `BTC_USDC-PERPETUAL`."""
    return f"{sim_base(symbol)}_USDC-PERPETUAL"


def notification(channel: str, data: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "subscription",
            "params": {"channel": channel, "data": data}}  # fmt: skip


class DeribitFormat:
    """Numbers at the instrument's tick and lot decimals."""

    def __init__(self, market: MarketModel, venue: str) -> None:
        self.market, self.venue = market, venue

    def price(self, symbol: str, value: float) -> float:
        return round(value, self.market.instruments[symbol].price_dp)

    def qty(self, symbol: str, value: float) -> float:
        return round(value, self.market.instruments[symbol].qty_dp)

    def ticker(self, symbol: str, now: int) -> dict[str, Any]:
        """The `ticker` data (also the `public/ticker` result) of a linear perpetual."""
        p, q, market = self.price, self.qty, self.market
        book = market.book(self.venue, symbol)
        rate = (
            market.funding_rate(self.venue, symbol)
            * 8
            / market.funding_interval_h(self.venue, symbol)
        )
        return {
            "timestamp": now,
            "stats": {"volume_usd": round(book.turnover_24h, 2),
                      "volume": q(symbol, book.volume_24h),
                      "price_change": 0.0, "low": p(symbol, book.low_24h),
                      "high": p(symbol, book.high_24h)},
            "state": "open",
            "settlement_price": p(symbol, book.open_24h),
            "open_interest": q(symbol, market.open_interest(self.venue, symbol, now)),
            "min_price": p(symbol, book.mid * 0.95),
            "max_price": p(symbol, book.mid * 1.05),
            "mark_price": p(symbol, book.mid),
            "last_price": p(symbol, book.last_price),
            "interest_value": 0.0,
            "instrument_name": venue_symbol(symbol),
            "index_price": p(symbol, market.true_price(symbol)),
            "funding_8h": round(rate, 8),
            "current_funding": round(rate, 8),
            "estimated_delivery_price": p(symbol, market.true_price(symbol)),
            "best_bid_price": p(symbol, book.bid),
            "best_bid_amount": q(symbol, book.bid_qty),
            "best_ask_price": p(symbol, book.ask),
            "best_ask_amount": q(symbol, book.ask_qty),
        }  # fmt: skip

    def trade(self, ev: Trade) -> dict[str, Any]:
        s = ev.symbol
        return {"trade_seq": ev.seq, "trade_id": str(ev.trade_id), "timestamp": ev.ts_ms,
                "tick_direction": 0 if ev.taker_buy else 2, "price": self.price(s, ev.price),
                "mark_price": self.price(s, self.market.book(self.venue, s).mid),
                "index_price": self.price(s, self.market.true_price(s)),
                "instrument_name": venue_symbol(s), "direction": "buy" if ev.taker_buy else "sell",
                "amount": self.qty(s, ev.qty), "contracts": self.qty(s, ev.qty)}  # fmt: skip

    def liquidation(self, ev: Liquidation) -> dict[str, Any]:
        """A liquidation is a trade whose taker was liquidated (`liquidation: "T"`)."""
        s = ev.symbol
        trade_id = LIQUIDATION_IDS + int(unit(f"{s}{ev.ts_ms}") * 1e9)
        return {"trade_seq": trade_id, "trade_id": str(trade_id), "timestamp": ev.ts_ms,
                "tick_direction": 2, "price": self.price(s, ev.price),
                "index_price": self.price(s, self.market.true_price(s)),
                "instrument_name": venue_symbol(s), "liquidation": "T",
                "direction": "sell" if ev.long_liquidated else "buy",
                "amount": self.qty(s, ev.qty)}  # fmt: skip

    def chart(self, ev: BarUpdate) -> dict[str, Any]:
        b, s = ev.bar, ev.symbol
        return {"tick": b.open_ms, "open": self.price(s, b.open), "high": self.price(s, b.high),
                "low": self.price(s, b.low), "close": self.price(s, b.close),
                "volume": self.qty(s, b.volume), "cost": round(b.quote_volume, 2)}  # fmt: skip


class DeribitBooks:
    """The published view and `change_id` of every subscribed book channel."""

    def __init__(self, fmt_: DeribitFormat) -> None:
        self.fmt, self.market, self.venue = fmt_, fmt_.market, fmt_.venue
        self._views: dict[str, View] = {}
        self._ids: dict[str, int] = {}

    def forget(self, key: str) -> None:
        """Nobody follows the channel: its next subscriber starts from a fresh snapshot."""
        self._views.pop(key, None)

    def _view(self, symbol: str) -> View:
        bids, asks = self.market.depth(self.venue, symbol).top(BOOK_DEPTH)
        return dict(bids), dict(asks)

    def snapshot(self, key: str, symbol: str, ts: int) -> dict[str, Any]:
        """The channel's current view, every level `["new", price, amount]`."""
        view = self._views[key] = self._view(symbol)
        change_id = self._ids.setdefault(key, 10_000 + int(unit(self.venue + key) * 1e9))
        bids = [("new", t, q) for t, q in sorted(view[0].items(), reverse=True)]
        asks = [("new", t, q) for t, q in sorted(view[1].items())]
        return self._frame(key, "snapshot", symbol, ts, change_id, 0, bids, asks)

    def change(self, key: str, symbol: str, ts: int) -> dict[str, Any] | None:
        """The levels of the view that changed since the last frame (None: none did)."""
        old = self._views.get(key)
        if old is None:
            return None  # not snapshotted yet: initial_frames sends the snapshot
        new = self._views[key] = self._view(symbol)
        bids = _changes(old[0], new[0], reverse=True)
        asks = _changes(old[1], new[1], reverse=False)
        if not bids and not asks:
            return None
        prev = self._ids[key]
        self._ids[key] = prev + 1
        return self._frame(key, "change", symbol, ts, prev + 1, prev, bids, asks)

    def _frame(
        self, key: str, kind: str, symbol: str, ts: int, change_id: int, prev: int,
        bids: list[tuple[str, int, float]], asks: list[tuple[str, int, float]],
    ) -> dict[str, Any]:  # fmt: skip
        data: dict[str, Any] = {"type": kind, "timestamp": ts,
                                "instrument_name": venue_symbol(symbol), "change_id": change_id,
                                "bids": self._levels(symbol, bids),
                                "asks": self._levels(symbol, asks)}  # fmt: skip
        if kind == "change":
            data["prev_change_id"] = prev
        return notification(key, data)

    def _levels(self, symbol: str, rows: list[tuple[str, int, float]]) -> list[list[Any]]:
        tick = self.market.instruments[symbol].tick
        p, q = self.fmt.price, self.fmt.qty
        return [[action, p(symbol, t * tick), q(symbol, size)] for action, t, size in rows]


def _changes(
    old: dict[int, float], new: dict[int, float], reverse: bool
) -> list[tuple[str, int, float]]:
    """Levels that appeared ("new"), changed size ("change") or left the view ("delete")."""
    out = [("new" if t not in old else "change", t, q) for t, q in new.items() if old.get(t) != q]
    out += [("delete", t, 0.0) for t in old if t not in new]
    return sorted(out, key=lambda row: row[1], reverse=reverse)
