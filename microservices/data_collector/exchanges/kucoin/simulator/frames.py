"""KuCoin payloads for the simulator: symbol spelling, number formats and the `message`
frames of spot (`/market/*`, `/spotMarket/level2Depth50`) and futures
(`/contractMarket/*`, `/contract/instrument`). Futures sizes are contracts of `multiplier`
base units (the instrument's quantity step: 0.001 BTC for XBTUSDTM, like KuCoin). No sockets.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from microservices.exchange_simulator.depth import Level
from microservices.exchange_simulator.market import (
    BarUpdate,
    DepthDiff,
    Mark,
    MarketModel,
    Quote,
    Trade,
)
from microservices.exchange_simulator.naming import sim_base
from microservices.exchange_simulator.venues.base import fmt

NS: Final = 1_000_000  # ns per ms
DEPTH: Final = 50
FUTURES_BASES: Final = {"BTC": "XBT"}  # KuCoin Futures spells bitcoin XBT


def spot_symbol(symbol: str) -> str:
    return f"{sim_base(symbol)}-USDT"


def futures_symbol(symbol: str) -> str:
    base = sim_base(symbol)
    return f"{FUTURES_BASES.get(base, base)}USDTM"


def order_id(value: int, salt: str) -> str:
    """A 24-hex-digit id like KuCoin's (deterministic per value)."""
    return hashlib.blake2b(f"{salt}:{value}".encode(), digest_size=12).hexdigest()


def message(topic: str, subject: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "topic": topic, "subject": subject, "data": data}


class KucoinFormat:
    """Frames of one market venue (spot or futures) of the simulated market."""

    def __init__(self, market: MarketModel, market_venue: str, futures: bool) -> None:
        self.market, self.venue, self.futures = market, market_venue, futures
        spell = futures_symbol if futures else spot_symbol
        self.venue_syms = {s: spell(s) for s in market.instruments}

    def price(self, symbol: str, value: float) -> str:
        return fmt(value, self.market.instruments[symbol].price_dp)

    def size(self, symbol: str, value: float) -> str | int:
        """Spot: base units as text; futures: whole contracts (at least 1 when not 0)."""
        inst = self.market.instruments[symbol]
        if self.futures:
            lots = round(value / inst.step)
            return max(lots, 1) if value > 0 else 0
        return fmt(value, inst.qty_dp)

    # ------------------------------------------------------------------ spot
    def ticker(self, topic: str, symbol: str, ev: Trade | Quote) -> dict[str, Any]:
        book, p, q = self.market.book(self.venue, symbol), self.price, self.size
        data: dict[str, Any] = {
            "sequence": str(book.seq), "price": p(symbol, book.last_price),
            "size": q(symbol, book.last_qty), "bestAsk": p(symbol, book.ask),
            "bestAskSize": q(symbol, book.ask_qty), "bestBid": p(symbol, book.bid),
            "bestBidSize": q(symbol, book.bid_qty), "time": ev.ts_ms,
        }  # fmt: skip
        if self.futures:
            data = {"symbol": self.venue_syms[symbol], "sequence": book.seq,
                    "bestBidSize": q(symbol, book.bid_qty), "bestBidPrice": p(symbol, book.bid),
                    "bestAskPrice": p(symbol, book.ask), "bestAskSize": q(symbol, book.ask_qty),
                    "ts": ev.ts_ms * NS}  # fmt: skip
            return message(topic, "tickerV2", data)
        return message(topic, "trade.ticker", data)

    def match(self, topic: str, ev: Trade) -> dict[str, Any]:
        s = ev.symbol
        data: dict[str, Any] = {
            "symbol": self.venue_syms[s], "sequence": str(ev.seq),
            "side": "buy" if ev.taker_buy else "sell", "size": self.size(s, ev.qty),
            "price": self.price(s, ev.price), "takerOrderId": order_id(ev.trade_id, "taker"),
            "makerOrderId": order_id(ev.trade_id, "maker"),
        }  # fmt: skip
        if self.futures:
            data.update(sequence=ev.seq, tradeId=str(ev.trade_id), ts=ev.ts_ms * NS)
            return message(topic, "match", data)
        data.update(type="match", tradeId=order_id(ev.trade_id, "trade"), time=str(ev.ts_ms * NS))
        return message(topic, "trade.l3match", data)

    def candle(self, topic: str, ev: BarUpdate) -> dict[str, Any]:
        """`trade.candles.add` with the closed bar when a minute ends, else `.update`."""
        b, s = ev.bar, ev.symbol
        row = [str(b.open_ms // 1000), self.price(s, b.open), self.price(s, b.close),
               self.price(s, b.high), self.price(s, b.low), fmt(b.volume, 8),
               fmt(b.quote_volume, 8)]  # fmt: skip
        subject = "trade.candles.add" if ev.closed else "trade.candles.update"
        data = {"symbol": self.venue_syms[s], "candles": row, "time": ev.ts_ms * NS}
        return message(topic, subject, data)

    def snapshot(self, topic: str, symbol: str, ts_ms: int) -> dict[str, Any]:
        """`/market/snapshot`: 24 h statistics (the spot heartbeat)."""
        book = self.market.book(self.venue, symbol)
        inner = {"trading": True, "symbol": self.venue_syms[symbol],
                 "buy": book.bid, "sell": book.ask, "lastTradedPrice": book.last_price,
                 "high": book.high_24h, "low": book.low_24h, "vol": book.volume_24h,
                 "volValue": book.turnover_24h, "datetime": ts_ms,
                 "baseCurrency": sim_base(symbol), "quoteCurrency": "USDT"}  # fmt: skip
        return message(topic, "trade.snapshot", {"sequence": str(book.seq), "data": inner})

    # ------------------------------------------------------------------ futures
    def instrument(self, topic: str, ev: Mark) -> dict[str, Any]:
        """`/contract/instrument` mark and index price (every second: the futures heartbeat)."""
        data = {"markPrice": round(ev.mark, 8), "indexPrice": round(ev.index_price, 8),
                "granularity": 1000, "timestamp": ev.ts_ms}  # fmt: skip
        return message(topic, "mark.index.price", data)

    # ------------------------------------------------------------------ books
    def depth(self, topic: str, symbol: str, ts_ms: int) -> dict[str, Any]:
        """The top 50 levels a side of the symbol's ladder: every push is whole."""
        ladder = self.market.depth(self.venue, symbol)
        bids, asks = ladder.top(DEPTH)
        data: dict[str, Any] = {"asks": self._levels(symbol, asks, ladder.tick),
                                "bids": self._levels(symbol, bids, ladder.tick),
                                "timestamp": ts_ms}  # fmt: skip
        if self.futures:
            data.update(sequence=self.market.book(self.venue, symbol).update_id, ts=ts_ms)
        return message(topic, "level2", data)

    def depth_after(self, topic: str, ev: DepthDiff) -> dict[str, Any]:
        return self.depth(topic, ev.symbol, ev.ts_ms)

    def _levels(self, symbol: str, rows: list[Level], tick: float) -> list[list[Any]]:
        return [[self.price(symbol, t * tick), self.size(symbol, q)] for t, q in rows]
