"""Large trades: raw trades and liquidations worth at least seed 002's USD thresholds.

`value_usd` = price x size x the quote's USD price. `size` on exchange.raw is already in base
units (each venue parser multiplies contracts by the listing's contract size; inverse
contracts become base units at the trade price), so price x size is the notional in the
quote. The quote's USD price comes from `usd_prices` through the USD-class prices this
detector has seen on the same stream (USD, USDT, USDC count as 1 unless a venue publishes a
stablecoin's own USD price, e.g. Coinbase USDT-USD; ETHBTC goes through BTCUSDT). A trade
whose quote has no USD price yet is counted (`unpriced`), never guessed.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Final

from microservices.ai_engine.aggregation.usd_rates import UsdRates
from microservices.ai_engine.large_trades.params import AlertParams, base_of
from microservices.common.large_trade_schema import LargeTrade, liquidation_trade_id
from microservices.common.market_alerts import MarketAlert, Severity
from microservices.common.records import Liquidation, RawRecord, Ticker, Trade

SOURCE: Final = "large_trades"
SEEN_MAX: Final = 50_000  # row ids remembered, so a re-delivered entry is not reported twice
CRITICAL_MULTIPLE: Final = 10.0  # a trade worth 10x its threshold is a critical alert


class LargeTradeDetector:
    """Turns trades and liquidations into `LargeTrade`s; keeps the USD prices it needs."""

    def __init__(self, params: AlertParams) -> None:
        self.params = params
        self.rates = UsdRates(params.usd_quotes)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.unpriced: dict[tuple[str, str], int] = {}  # (venue, symbol) -> trades not valued
        self.duplicates = 0
        self.invalid = 0  # trades whose value overflows (not finite)

    def observe_price(self, rec: RawRecord) -> None:
        """Remember a USD-class price (trades, ticker mids) for later conversions."""
        quote = rec.quote
        if quote not in self.rates.usd:
            return
        if isinstance(rec, Trade):
            price = rec.price
        elif isinstance(rec, Ticker):
            price = (rec.bid + rec.ask) * 0.5
        else:
            return
        if not math.isfinite(price) or price <= 0:
            return
        if not self.rates.is_stablecoin_pair(rec.group, quote):
            price *= self.rates.leg_rate(quote)  # BTCUSDT in USD where USDT has its own price
        self.rates.observe(rec.group, price, rec.exchange)

    def valued(self, rec: Trade | Liquidation) -> LargeTrade | None:
        """`rec` as a `LargeTrade` record with its USD value and threshold, whatever its size
        (the caller compares them), or None when its quote has no USD price or its size is 0."""
        quote = rec.quote or "USD"
        quote_usd = self.rates.usd_price(quote)
        if quote_usd is None:
            key = (rec.exchange, rec.symbol)
            self.unpriced[key] = self.unpriced.get(key, 0) + 1
            return None
        value = rec.price * rec.size * quote_usd
        if not math.isfinite(value):
            self.invalid += 1  # an absurd price or size: never a large trade
            return None
        if rec.size <= 0:
            return None
        liquidation = isinstance(rec, Liquidation)
        trade_id = (
            liquidation_trade_id(rec.ts_ms, rec.side, rec.price, rec.size)
            if isinstance(rec, Liquidation)
            else rec.trade_id
        )
        return LargeTrade(
            exchange=rec.exchange, market=rec.market, symbol=rec.venue_symbol,
            canonical_symbol=rec.symbol, group=rec.group, quote=quote, trade_id=trade_id,
            ts_ms=rec.ts_ms, recv_ms=rec.recv_ms, price=rec.price, size=rec.size,
            side=rec.side, value_usd=value, quote_usd=quote_usd,
            threshold_usd=self.params.threshold_usd(base_of(rec.group, quote, self.rates.usd)),
            is_liquidation=liquidation,
        )  # fmt: skip

    def is_new(self, trade: LargeTrade) -> bool:
        """False for a row id seen among the last SEEN_MAX (a re-delivered entry)."""
        return not self._repeated(trade.row_id)

    def seen(self) -> list[str]:
        """The row ids remembered, oldest first (part of the state a rebuild must restore)."""
        return list(self._seen)

    def take_unpriced(self) -> dict[tuple[str, str], int]:
        taken, self.unpriced = self.unpriced, {}
        return taken

    def _repeated(self, row_id: str) -> bool:
        if row_id in self._seen:
            self.duplicates += 1
            return True
        self._seen[row_id] = None
        if len(self._seen) > SEEN_MAX:
            self._seen.popitem(last=False)
        return False


def large_trade_alert(trade: LargeTrade) -> MarketAlert:
    """The LARGE_TRADE alert of one large trade (warning for liquidations, critical at 10x)."""
    kind = "liquidation" if trade.is_liquidation else "trade"
    severity: Severity = "warning" if trade.is_liquidation else "info"
    if trade.value_usd >= CRITICAL_MULTIPLE * trade.threshold_usd:
        severity = "critical"
    reason = (
        f"{trade.exchange} {trade.symbol} {kind}: {trade.side} {trade.size:g} at "
        f"{trade.price:g} = ${trade.value_usd:,.0f} (threshold ${trade.threshold_usd:,.0f})"
    )
    return MarketAlert(
        ts_ms=trade.ts_ms, source=SOURCE, type="LARGE_TRADE", severity=severity,
        symbol=trade.canonical_symbol, venue=trade.exchange, reason=reason,
        data={"venue_symbol": trade.symbol, "group": trade.group,
              "trade_id": trade.trade_id, "side": trade.side, "price": trade.price,
              "size": trade.size, "value_usd": round(trade.value_usd, 2),
              "threshold_usd": trade.threshold_usd, "is_liquidation": trade.is_liquidation},
    )  # fmt: skip
