"""USD prices of quote assets from the product's own data, and the stablecoin depeg monitor.

`UsdRates` holds the prices `common.usd_prices` reads: stablecoin pairs under their own
canonical symbol (`USDTUSD` from Coinbase USDT-USD, `USDCUSDT`), USD-class groups under their
key (`BTCUSDT`, the median of the group's fresh venues in USD). From them:
- `leg_rate(quote)`: what one unit of a venue's quote is worth in USD for its group's price
  (a stablecoin's own USD price where one is published, else 1.0; USD 1.0; other quotes 1.0:
  their groups stay in their own quote, `ETHBTC` in BTC);
- `notional(...)` / `contracts(...)`: per-venue volume and open interest in USD through the
  quote's USD price (`ETHBTC` through `BTCUSDT`); None where no USD price exists.

`DepegMonitor` turns those prices into `DEPEG` alerts, once per transition: a stablecoin whose
own USD price is more than the threshold from 1 raises `DEPEG` with severity `warning`; when
it comes back within half the threshold (hysteresis: a price hovering at the threshold does
not flap) a `DEPEG` with severity `info` and `data.state = "repegged"` says so. A stablecoin
without a published USD price counts as 1 and is never flagged.

Pure: no I/O, no clock (`now_ms` is a parameter).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Final

from microservices.common.instruments import USD_EQUIVALENTS
from microservices.common.market_alerts import MarketAlert
from microservices.common.usd_prices import (
    USD,
    asset_usd_price,
    contracts_usd,
    is_depegged,
    notional_usd,
    stablecoin_usd_price,
)

SOURCE: Final = "aggregator"


@dataclass(frozen=True, slots=True)
class Contract:
    """What the aggregator knows of a venue's instrument (from the collector's published set;
    without it: size 1, inverse when the canonical name says `.INV`)."""

    contract_size: float = 1.0
    inverse: bool = False


def default_contract(symbol: str) -> Contract:
    return Contract(inverse=".INV" in symbol)


class UsdRates:
    """The latest USD-class prices, and the conversions built on them."""

    __slots__ = ("prices", "sources", "usd")

    def __init__(self, usd_quotes: Collection[str] = USD_EQUIVALENTS) -> None:
        self.usd: frozenset[str] = frozenset(usd_quotes)
        self.prices: dict[str, float] = {}  # symbol -> price (stablecoin pairs, USD groups)
        self.sources: dict[str, str] = {}  # symbol -> the venue(s) it came from

    def observe(self, symbol: str, price: float, venue: str = "") -> None:
        self.prices[symbol] = price
        self.sources[symbol] = venue

    def forget(self, symbol: str) -> None:
        self.prices.pop(symbol, None)
        self.sources.pop(symbol, None)

    def is_stablecoin_pair(self, group: str, quote: str) -> bool:
        """A group whose base and quote are both USD-class (`USDTUSD`, `USDCUSDT`)."""
        return quote in self.usd and group.endswith(quote) and group[: -len(quote)] in self.usd

    def leg_rate(self, quote: str) -> float:
        """USD per unit of a venue's quote, for the venue's price in its group (module doc)."""
        if quote not in self.usd or quote == USD:
            return 1.0
        own = stablecoin_usd_price(quote, self.prices, self.usd)
        return 1.0 if own is None else own

    def notional(self, price: float, size: float, quote: str) -> float | None:
        """`size` base units at `price` quote units, in USD; None without a USD price."""
        return notional_usd(price, size, quote or USD, self.prices, self.usd)

    def contracts(
        self, contracts: float, contract: Contract, price: float, quote: str
    ) -> float | None:
        """Open interest of `contracts` in USD (`usd_prices.contracts_usd`)."""
        return contracts_usd(
            contracts, contract.contract_size, contract.inverse, price, quote or USD,
            self.prices, self.usd,
        )  # fmt: skip

    def usd_price(self, asset: str) -> float | None:
        return asset_usd_price(asset, self.prices, self.usd)

    def source_of(self, asset: str) -> tuple[str, str]:
        """(symbol, venue) whose price gave a stablecoin's own USD price (direct first)."""
        for symbol in (asset + USD, *sorted(k for k in self.prices if k.startswith(asset))):
            if symbol in self.prices:
                return symbol, self.sources.get(symbol, "")
        return asset + USD, ""


@dataclass(slots=True)
class UsdContext:
    """What a snapshot needs for USD values: the rates, the venues' contracts ((venue,
    canonical symbol) -> Contract) and the count of values left null for want of a USD price
    ((symbol, venue, kind) -> count; the service drains it into a metric)."""

    rates: UsdRates = field(default_factory=UsdRates)
    contracts: dict[tuple[str, str], Contract] = field(default_factory=dict)
    unpriced: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def contract(self, venue: str, symbol: str) -> Contract:
        found = self.contracts.get((venue, symbol))
        return default_contract(symbol) if found is None else found

    def count_unpriced(self, symbol: str, venue: str, kind: str) -> None:
        key = (symbol, venue, kind)
        self.unpriced[key] = self.unpriced.get(key, 0) + 1


@dataclass(slots=True)
class DepegMonitor:
    """Stablecoins off peg and the alerts of their transitions (module docstring)."""

    threshold: float  # a fraction: 0.005 = 0.5 %
    depegged: dict[str, float] = field(default_factory=dict)  # asset -> price when flagged

    def check(self, rates: UsdRates, now_ms: int) -> list[MarketAlert]:
        alerts: list[MarketAlert] = []
        for asset in sorted(rates.usd - {USD}):
            own = stablecoin_usd_price(asset, rates.prices, rates.usd)
            if own is None:
                continue  # no published price: counts as 1, state kept
            if asset not in self.depegged and is_depegged(own, self.threshold):
                self.depegged[asset] = own
                alerts.append(self._alert(rates, asset, own, now_ms, "depegged"))
            elif asset in self.depegged and not is_depegged(own, self.threshold / 2):
                del self.depegged[asset]
                alerts.append(self._alert(rates, asset, own, now_ms, "repegged"))
        return alerts

    def _alert(
        self, rates: UsdRates, asset: str, price: float, now_ms: int, state: str
    ) -> MarketAlert:
        symbol, venue = rates.source_of(asset)
        pct = (price - 1.0) * 100.0
        if state == "depegged":
            reason = f"{asset} at {price:.6g} USD ({pct:+.3f} %, threshold {self._pct():g} %)"
        else:
            reason = f"{asset} back at {price:.6g} USD ({pct:+.3f} %)"
        return MarketAlert(
            ts_ms=now_ms, source=SOURCE, type="DEPEG",
            severity="warning" if state == "depegged" else "info",
            symbol=symbol, venue=venue, reason=reason,
            data={"asset": asset, "usd_price": price, "deviation_pct": pct,
                  "threshold_pct": self._pct(), "state": state},
        )  # fmt: skip

    def _pct(self) -> float:
        return round(self.threshold * 100.0, 12)
