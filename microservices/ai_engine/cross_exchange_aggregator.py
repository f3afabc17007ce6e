"""Cross-exchange aggregator core: fold raw records per (symbol, venue), emit throttled snapshots.

The symbol is the records' `group` (the followed symbol, e.g. BTCUSDT), so each venue's own
instrument (Coinbase BTC-USD, canonical BTCUSD) joins the others under one key.

Pure (SPEC section 4): imports no redis, asyncio or aiohttp and never reads the clock; the
service shell feeds records and passes `now_ms`. The rules live in `aggregation/`:
`venue_state` (per-record fold, venue price rule), `snapshot` (freshness, outliers,
aggregates, funding, NBBO), `volatility` (volatility_factor), `usd_rates` (USD prices of
quote assets, USD values, DEPEG alerts).

USD prices of quote assets come from the product's own data, refreshed at most every
RATES_INTERVAL_MS: each stablecoin pair group (`USDTUSD`, `USDCUSDT`; the collector follows
them as reference instruments) gives the median of its fresh venues' prices, then each other
USD-class group (`BTCUSDT`) the median of its fresh venues in USD. A stablecoin pair group is
a reference, not emitted, unless it is followed (`set_followed`; before that, all are). A
group without a fresh venue leaves the prices (a stablecoin then counts as 1 again).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Final

from microservices.ai_engine.aggregation.dvol import DvolBook
from microservices.ai_engine.aggregation.params import AggregatorParams
from microservices.ai_engine.aggregation.snapshot import SymbolState, build_snapshot
from microservices.ai_engine.aggregation.stats import median
from microservices.ai_engine.aggregation.usd_rates import (
    Contract,
    DepegMonitor,
    UsdContext,
    UsdRates,
)
from microservices.ai_engine.aggregation.venue_state import VenueState
from microservices.common.book_schema import BookTop
from microservices.common.futures_basis import BasisBook
from microservices.common.instruments import USD_EQUIVALENTS
from microservices.common.market_alerts import MarketAlert
from microservices.common.records import (
    Market,
    NormalizedSnapshot,
    OptionsSummary,
    RawRecord,
    Settlement,
    VolatilityIndex,
)
from microservices.common.usd_prices import DEFAULT_DEPEG_THRESHOLD

__all__ = ["AggregatorParams", "CrossExchangeState"]
RATES_INTERVAL_MS: Final = 1_000


class CrossExchangeState:
    """All symbols' cross-venue state; one instance per aggregator process.

    `update` is O(1) per record. `snapshot` and `poll` are O(venues) per symbol. `now_ms`
    passed to `snapshot`/`poll` must not decrease (it drives volume eviction and the
    volatility sampling buckets).
    """

    __slots__ = (
        "_alerts", "_basis", "_depeg", "_dvol", "_followed", "_params", "_rates_due", "_symbols",
        "usd",
    )  # fmt: skip

    def __init__(
        self,
        params: AggregatorParams,
        usd_quotes: Collection[str] = USD_EQUIVALENTS,
        depeg_threshold: float = DEFAULT_DEPEG_THRESHOLD,
        rates: UsdRates | None = None,
    ) -> None:
        self._params = params
        self._symbols: dict[str, SymbolState] = {}
        self.usd = UsdContext(rates=UsdRates(usd_quotes) if rates is None else rates)
        self._depeg = DepegMonitor(depeg_threshold)
        self._alerts: list[MarketAlert] = []
        self._followed: frozenset[str] | None = None
        self._rates_due = 0
        self._basis = BasisBook()
        self._dvol = DvolBook()

    def update(self, record: RawRecord) -> None:
        """Fold one raw record of any type and symbol under its group; the venue key is
        `record.exchange`.

        Typed as the RawRecord base (what stream decoding yields) rather than the AnyRaw union,
        so callers need no cast; record classes outside AnyRaw are ignored.

        Late records (older `ts_ms` than the held one of the same kind) and duplicate trades are
        ignored, so re-delivery never changes a snapshot. Liquidations only refresh the venue's
        last-seen time. Settlements (delayed CME data) never join a venue's state, so they never
        make a symbol look stale or fresh: they only update the group's futures basis. Likewise
        DVOL (volatility_index) only updates its currency's `dvol`; options summaries are
        ignored.
        """
        if isinstance(record, VolatilityIndex):  # DVOL: a currency's, never a venue's state
            self._dvol.apply(record)
            return
        if isinstance(record, OptionsSummary):  # served by /api/v1/options, not aggregated
            return
        if isinstance(record, Settlement):
            if self._basis.apply(record) and record.group in self._symbols:
                self._symbols[record.group].dirty = True
            return
        venue = self._venue(
            record.group, record.exchange, record.market, record.symbol, record.quote
        )
        if venue.apply(record):
            self._symbols[record.group].dirty = True

    def update_book(self, top: BookTop) -> None:
        """Fold one `exchange.orderbook` entry into its venue's state under `top.group`: the
        venue's top quote becomes the newer of book and ticker, its depth figures join the
        snapshot while fresh. Entries older (`ts_ms`) than the held one are ignored."""
        market: Market = "perp" if top.market == "perp" else "spot"
        venue = self._venue(top.group, top.exchange, market, top.symbol, top.quote)
        if venue.apply_book(top):
            self._symbols[top.group].dirty = True

    def _venue(
        self, group: str, exchange: str, market: Market, symbol: str, quote: str
    ) -> VenueState:
        """The state of `exchange` under `group` (venues meet under the followed symbol:
        Coinbase BTCUSD under BTCUSDT), created on first sight."""
        state = self._symbols.get(group)
        if state is None:
            state = self._symbols[group] = SymbolState(self._params)
        venue = state.venues.get(exchange)
        if venue is None:
            venue = state.add_venue(exchange, market)
        if venue.symbol != symbol:  # first record, or the venue's primary changed
            venue.symbol, venue.quote = symbol, quote
        return venue

    def snapshot(self, symbol: str, now_ms: int) -> NormalizedSnapshot | None:
        """Snapshot of `symbol` at `now_ms`; None if unknown or fewer than min_exchanges included.

        Rules (see aggregation.snapshot.build_snapshot): a venue's price is its latest ticker
        mid if that ticker was received no earlier than its last trade, else the last trade,
        else the last kline close; a venue is fresh when now_ms - receive time of that price
        <= stale_after_ms, otherwise excluded as "stale"; with 3+ fresh venues, those more
        than outlier_pct % from the fresh median are excluded as "outlier" (with two venues
        nobody can be singled out, both stay). Calling it does not count as an emission.
        """
        state = self._symbols.get(symbol)
        if state is None:
            return None
        return self._with_dvol(self._with_basis(build_snapshot(symbol, state, now_ms, self.usd)),
                               now_ms)  # fmt: skip

    def poll(self, now_ms: int) -> list[NormalizedSnapshot]:
        """Throttled emission for every symbol, in sorted symbol order.

        A symbol emits when at least min_emit_interval_ms passed since its last emission and
        either a record changed its state since then or max_emit_interval_ms passed and at
        least one venue is fresh (heartbeat). Its first emission happens as soon as a snapshot
        exists. Symbols whose snapshot is None emit nothing and are retried on the next poll.
        """
        params = self._params
        self._refresh_rates(now_ms)
        out: list[NormalizedSnapshot] = []
        for symbol in sorted(self._symbols):
            state = self._symbols[symbol]
            if self._reference_only(symbol, state):
                continue
            last = state.last_emit_ms
            if last is not None:
                elapsed = now_ms - last
                if elapsed < params.min_emit_interval_ms:
                    continue
                heartbeat = elapsed >= params.max_emit_interval_ms and state.any_fresh(now_ms)
                if not (state.dirty or heartbeat):
                    continue
            snap = self._with_basis(build_snapshot(symbol, state, now_ms, self.usd))
            snap = self._with_dvol(snap, now_ms)
            if snap is None:
                continue
            state.last_emit_ms = now_ms
            state.dirty = False
            out.append(snap)
        return out

    def _with_basis(self, snap: NormalizedSnapshot | None) -> NormalizedSnapshot | None:
        if snap is not None:
            snap.basis = self._basis.get(snap.symbol)
        return snap

    def _with_dvol(self, snap: NormalizedSnapshot | None, now_ms: int) -> NormalizedSnapshot | None:
        if snap is not None:
            snap.dvol = self._dvol.of_group(snap.symbol, self.usd.rates.usd, now_ms)
        return snap

    # ------------------------------------------------------------------ USD values
    def set_followed(self, followed: Collection[str]) -> None:
        """The followed symbols (the collector's published set): stablecoin pairs outside it
        are reference instruments, not emitted."""
        self._followed = frozenset(followed)

    def set_contracts(self, contracts: Mapping[tuple[str, str], Contract]) -> None:
        """(venue, canonical symbol) -> contract size and inverse flag of its instrument."""
        self.usd.contracts = dict(contracts)

    def take_alerts(self) -> list[MarketAlert]:
        """DEPEG alerts raised since the last call (for the `alerts` stream)."""
        alerts, self._alerts = self._alerts, []
        return alerts

    def take_unpriced(self) -> dict[tuple[str, str, str], int]:
        """(symbol, venue, kind) -> USD values left null since the last call."""
        counts, self.usd.unpriced = self.usd.unpriced, {}
        return counts

    def _reference_only(self, symbol: str, state: SymbolState) -> bool:
        if self._followed is None or symbol in self._followed:
            return False
        return self.usd.rates.is_stablecoin_pair(symbol, _quote_of(state))

    def _refresh_rates(self, now_ms: int) -> None:
        """Stablecoin pairs first (their prices convert the legs of the others), then the
        USD-class groups; then the depeg check. At most every RATES_INTERVAL_MS."""
        if now_ms < self._rates_due:
            return
        self._rates_due = now_ms + RATES_INTERVAL_MS
        rates = self.usd.rates
        pairs, groups = [], []
        for symbol, state in self._symbols.items():
            quote = _quote_of(state)
            if rates.is_stablecoin_pair(symbol, quote):
                pairs.append((symbol, state))
            elif quote in rates.usd:
                groups.append((symbol, state))
        for symbol, state in pairs:
            self._observe(symbol, state, now_ms, convert=False)
        for symbol, state in groups:
            self._observe(symbol, state, now_ms, convert=True)
        self._alerts.extend(self._depeg.check(rates, now_ms))

    def _observe(self, symbol: str, state: SymbolState, now_ms: int, *, convert: bool) -> None:
        rates, prices, names = self.usd.rates, [], []
        for name in state.names:
            venue = state.venues[name]
            obs = venue.price_observation()
            if obs is not None and now_ms - obs[1] <= self._params.stale_after_ms:
                prices.append(obs[0] * (rates.leg_rate(venue.quote) if convert else 1.0))
                names.append(name)
        if prices:
            rates.observe(symbol, median(prices), ",".join(names))
        else:  # every venue stale: no longer published (a stablecoin counts as 1 again)
            rates.forget(symbol)

    def symbols(self) -> list[str]:
        """Every symbol seen so far, sorted."""
        return sorted(self._symbols)

    def venue_status(self, now_ms: int) -> dict[str, dict[str, int]]:
        """symbol -> venue -> ms since the newest receive time of any record (>= 0), for /health."""
        return {
            symbol: {name: max(now_ms - state.venues[name].last_seen_ms, 0) for name in state.names}
            for symbol, state in sorted(self._symbols.items())
        }


def _quote_of(state: SymbolState) -> str:
    """The quote of a group's first venue ("" before any record)."""
    for venue in state.venues.values():
        return venue.quote
    return ""
