"""Binance USDⓈ-M futures WebSocket dialect under `/binance_futures` (REST: `futures_rest.py`).

Adds `<sym>@markPrice[@1s]` (markPriceUpdate p,i,P,r,T) and `<sym>@forceOrder` to the spot
streams and uses the futures shapes: bookTicker with e/E/T, aggTrade without M, depthUpdate
with T and pu, prices at the contract's tick.
"""

from __future__ import annotations

from typing import Any, ClassVar

from microservices.data_collector.exchanges.binance.simulator.spot_ws import BinanceDialect
from microservices.exchange_simulator.market import DepthDiff, Liquidation, Mark, Quote, Trade
from microservices.exchange_simulator.venues.base import Rendered, fmt


class BinanceFuturesDialect(BinanceDialect):
    url_venue = "binance_futures"
    market_venue = "binance_futures"
    kinds: ClassVar[tuple[str, ...]] = (
        "aggTrade",
        "trade",
        "bookTicker",
        "kline_1m",
        "depth@100ms",
        "markPrice",
        "markPrice@1s",
        "forceOrder",
    )

    def __init__(self, market: Any) -> None:
        super().__init__(market)
        self._builders[Mark] = self._mark
        self._builders[Liquidation] = self._force_order

    def price_dp(self, symbol: str) -> int:
        return int(self.market.instruments[symbol].price_dp)

    def qty_dp(self, symbol: str) -> int:
        return int(self.market.instruments[symbol].qty_dp)

    def _trade(self, ev: Trade, prefix: str, wanted: set[str], out: Rendered) -> None:
        p, q, sym = self.price_dp(ev.symbol), self.qty_dp(ev.symbol), self.venue_syms[ev.symbol]
        if prefix + "aggTrade" in wanted:
            out.append(
                (
                    prefix + "aggTrade",
                    {
                        "e": "aggTrade",
                        "E": ev.ts_ms,
                        "a": ev.seq,
                        "s": sym,
                        "p": fmt(ev.price, p),
                        "q": fmt(ev.qty, q),
                        "f": ev.trade_id,
                        "l": ev.trade_id,
                        "T": ev.ts_ms,
                        "m": not ev.taker_buy,
                    },
                )
            )
        if prefix + "trade" in wanted:
            out.append(
                (
                    prefix + "trade",
                    {
                        "e": "trade",
                        "E": ev.ts_ms,
                        "T": ev.ts_ms,
                        "s": sym,
                        "t": ev.trade_id,
                        "p": fmt(ev.price, p),
                        "q": fmt(ev.qty, q),
                        "X": "MARKET",
                        "m": not ev.taker_buy,
                    },
                )
            )

    def _quote(self, ev: Quote, prefix: str, wanted: set[str], out: Rendered) -> None:
        key = prefix + "bookTicker"
        if key in wanted:
            p, q = self.price_dp(ev.symbol), self.qty_dp(ev.symbol)
            out.append(
                (
                    key,
                    {
                        "e": "bookTicker",
                        "u": ev.update_id,
                        "E": ev.ts_ms,
                        "T": ev.ts_ms,
                        "s": self.venue_syms[ev.symbol],
                        "b": fmt(ev.bid, p),
                        "B": fmt(ev.bid_qty, q),
                        "a": fmt(ev.ask, p),
                        "A": fmt(ev.ask_qty, q),
                    },
                )
            )

    def depth_update(self, ev: DepthDiff) -> dict[str, Any]:
        return {
            "e": "depthUpdate",
            "E": ev.ts_ms,
            "T": ev.ts_ms,
            "s": self.venue_syms[ev.symbol],
            "U": ev.first_id,
            "u": ev.last_id,
            "pu": ev.prev_id,
            "b": self.levels(ev.symbol, ev.bids),
            "a": self.levels(ev.symbol, ev.asks),
        }

    def _mark(self, ev: Mark, prefix: str, wanted: set[str], out: Rendered) -> None:
        payload = {
            "e": "markPriceUpdate",
            "E": ev.ts_ms,
            "s": self.venue_syms[ev.symbol],
            "p": fmt(ev.mark, 8),
            "i": fmt(ev.index_price, 8),
            "P": fmt(ev.index_price, 8),
            "r": fmt(ev.funding_rate, 8),
            "T": ev.next_funding_ms,
        }
        if prefix + "markPrice@1s" in wanted:
            out.append((prefix + "markPrice@1s", payload))
        if prefix + "markPrice" in wanted and (ev.ts_ms // 1000) % 3 == 0:
            out.append((prefix + "markPrice", payload))

    def _force_order(self, ev: Liquidation, prefix: str, wanted: set[str], out: Rendered) -> None:
        key = prefix + "forceOrder"
        if key in wanted:
            p, q = self.price_dp(ev.symbol), self.qty_dp(ev.symbol)
            order_price = ev.price * (0.995 if ev.long_liquidated else 1.005)
            out.append(
                (
                    key,
                    {
                        "e": "forceOrder",
                        "E": ev.ts_ms,
                        "o": {
                            "s": self.venue_syms[ev.symbol],
                            "S": "SELL" if ev.long_liquidated else "BUY",
                            "o": "LIMIT",
                            "f": "IOC",
                            "q": fmt(ev.qty, q),
                            "p": fmt(order_price, p),
                            "ap": fmt(ev.price, p),
                            "X": "FILLED",
                            "l": fmt(ev.qty, q),
                            "z": fmt(ev.qty, q),
                            "T": ev.ts_ms,
                        },
                    },
                )
            )
