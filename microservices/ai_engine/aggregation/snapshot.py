"""Per-symbol aggregator state and the snapshot rule (freshness, outliers, aggregates, NBBO).

`build_snapshot` is O(venues); its only side effect is feeding the symbol's volatility
sampler and evicting expired volume. Pure: `now_ms` is always a parameter.
"""

from __future__ import annotations

from microservices.ai_engine.aggregation.params import AggregatorParams
from microservices.ai_engine.aggregation.stats import (
    funding_aggregates,
    median,
    nbbo,
    summarize_prices,
)
from microservices.ai_engine.aggregation.usd_rates import UsdContext
from microservices.ai_engine.aggregation.venue_state import VenueState
from microservices.ai_engine.aggregation.volatility import VolatilityTracker
from microservices.common.orderbook.depth import imbalance
from microservices.common.records import Market, NormalizedSnapshot, VenueQuote
from microservices.common.usd_prices import USD

_Candidate = tuple[str, float, int]  # (venue, price, recv_ms of the price source)


class SymbolState:
    """Venues of one symbol (iterated in sorted name order), its volatility sampler and throttle."""

    __slots__ = ("dirty", "last_emit_ms", "names", "params", "venues", "vol")

    def __init__(self, params: AggregatorParams) -> None:
        self.params = params
        self.venues: dict[str, VenueState] = {}
        self.names: list[str] = []
        self.vol = VolatilityTracker(
            params.vol_sample_ms,
            params.vol_short_window_ms,
            params.vol_long_window_ms,
            params.vol_cap,
        )
        self.last_emit_ms: int | None = None
        self.dirty = False

    def add_venue(self, name: str, market: Market) -> VenueState:
        venue = VenueState(market, self.params.volume_window_ms)
        self.venues[name] = venue
        self.names = sorted(self.venues)
        return venue

    def any_fresh(self, now_ms: int) -> bool:
        """True when at least one venue's price observation is fresh."""
        for venue in self.venues.values():
            obs = venue.price_observation()
            if obs is not None and now_ms - obs[1] <= self.params.stale_after_ms:
                return True
        return False


def _fresh_candidates(
    state: SymbolState, now_ms: int, excluded: dict[str, str], usd: UsdContext
) -> list[_Candidate]:
    """Venues with a price observed within stale_after_ms; the others go to excluded as stale.
    Prices in a stablecoin are converted to USD by its own USD price where one is published
    (`UsdRates.leg_rate`). Venues that never had a price (e.g. only funding so far) are
    neither included nor listed.
    """
    fresh: list[_Candidate] = []
    stale_after = state.params.stale_after_ms
    for name in state.names:
        venue = state.venues[name]
        obs = venue.price_observation()
        if obs is None:
            continue
        if now_ms - obs[1] <= stale_after:
            fresh.append((name, obs[0] * usd.rates.leg_rate(venue.quote), obs[1]))
        else:
            excluded[name] = "stale"
    return fresh


def _drop_outliers(
    fresh: list[_Candidate], outlier_pct: float, excluded: dict[str, str]
) -> list[_Candidate]:
    """With 3+ fresh venues, drop those more than outlier_pct percent from their median.

    With exactly two venues the median is their midpoint and both are equally far from it, so
    no outlier can be told apart: both stay and price_divergence shows the disagreement.
    """
    if len(fresh) < 3:
        return fresh
    med = median([price for _, price, _ in fresh])
    kept: list[_Candidate] = []
    for cand in fresh:
        if abs(cand[1] - med) / med * 100.0 > outlier_pct:
            excluded[cand[0]] = "outlier"
        else:
            kept.append(cand)
    return kept


def _quote(
    venue: VenueState, price: float, recv_ms: int, now_ms: int, p: AggregatorParams
) -> VenueQuote:
    """A venue's part of the snapshot; `price` (and bid/ask) already in USD for stablecoin legs."""
    quote = VenueQuote(price=price, age_ms=max(now_ms - recv_ms, 0))
    top = venue.top_quote()  # the newer of ticker and book
    if top is not None and now_ms - top[4] <= p.stale_after_ms:
        own = venue.price_observation()
        rate = price / own[0] if own is not None else 1.0
        quote.bid, quote.ask = top[0] * rate, top[1] * rate
        quote.bid_size, quote.ask_size = top[2], top[3]
    if venue.has_volume():
        quote.volume = venue.volume.total(now_ms)
    if _funding_fresh(venue, now_ms, p):
        quote.funding_8h = venue.funding_8h_pct()
    return quote


def _usd_values(
    symbol: str, name: str, venue: VenueState, quote: VenueQuote, usd: UsdContext
) -> None:
    """Volume and open interest of a venue in USD, through its quote's USD price (ETHBTC
    through BTCUSDT); open interest from contracts x contract size x the venue's mark price
    (else its price), inverse contracts from their size. None where no USD price exists,
    counted in `usd.unpriced`."""
    own = venue.price_observation()
    if own is None:
        return
    if quote.volume is not None:
        quote.volume_usd = usd.rates.notional(own[0], quote.volume, venue.quote)
        if quote.volume_usd is None:
            usd.count_unpriced(symbol, name, "volume")
    if venue.oi_ts >= 0:
        contract = usd.contract(name, venue.symbol)
        mark = own[0] if venue.mark_price is None else venue.mark_price
        quote.open_interest_usd = usd.rates.contracts(venue.oi, contract, mark, venue.quote)
        if quote.open_interest_usd is None:
            usd.count_unpriced(symbol, name, "open_interest")


def _book_values(
    symbol: str, name: str, venue: VenueState, quote: VenueQuote, usd: UsdContext,
    fresh_since_ms: int,
) -> None:  # fmt: skip
    """Depth of a fresh book within 10 / 50 bps in USD (quote-unit depth x the quote's USD
    price; None and counted in `usd.unpriced` without one) and its 10 bps imbalance. A book
    is fresh while received at or after `fresh_since_ms` (now - stale_after_ms, as a ticker)."""
    book = venue.book
    if book is None or book.recv_ms < fresh_since_ms:
        return
    quote.imbalance_10bps = imbalance(book.bid_depth_10bps, book.ask_depth_10bps)
    rate = usd.rates.usd_price(venue.quote or USD)
    if rate is None:
        usd.count_unpriced(symbol, name, "depth")
        return
    quote.bid_depth_10bps = book.bid_depth_10bps * rate
    quote.ask_depth_10bps = book.ask_depth_10bps * rate
    quote.bid_depth_50bps = book.bid_depth_50bps * rate
    quote.ask_depth_50bps = book.ask_depth_50bps * rate


def _funding_fresh(venue: VenueState, now_ms: int, p: AggregatorParams) -> bool:
    return (
        venue.market == "perp"
        and venue.funding_recv >= 0
        and now_ms - venue.funding_recv <= p.funding_stale_after_ms
    )


def _quotes(
    symbol: str, state: SymbolState, included: list[_Candidate], now_ms: int, usd: UsdContext
) -> dict[str, VenueQuote]:
    quotes: dict[str, VenueQuote] = {}
    for name, price, recv in included:
        venue = state.venues[name]
        quotes[name] = quote = _quote(venue, price, recv, now_ms, state.params)
        _usd_values(symbol, name, venue, quote, usd)
        _book_values(symbol, name, venue, quote, usd, now_ms - state.params.stale_after_ms)
    return quotes


def build_snapshot(
    symbol: str, state: SymbolState, now_ms: int, usd: UsdContext | None = None
) -> NormalizedSnapshot | None:
    """The cross-venue snapshot of `symbol` at `now_ms`, or None below min_exchanges.

    included = fresh venues minus outliers. Aggregates over included prices: mean, median,
    population std, (max - min) / median. Funding (percent per 8 h): mean and signed spread
    (`funding_aggregates`) of the 8h-equivalent rates of included perp venues whose funding
    was received within funding_stale_after_ms.
    NBBO over included venues with a fresh top quote (the newer of ticker and book, so a
    fresh book gives its best prices and sizes), with the sizes at the best prices; per-venue
    book depth in USD and imbalance while the book is fresh (`_book_values`). USD books
    (Coinbase) and stablecoin books are compared and averaged in USD: a stablecoin's price
    counts as its own published USD price (`usd`), else as 1. Per-venue volume and open
    interest in USD (`_usd_values`). Feeds avg_price to the volatility sampler.
    """
    params = state.params
    usd = UsdContext() if usd is None else usd
    excluded: dict[str, str] = {}
    included = _drop_outliers(
        _fresh_candidates(state, now_ms, excluded, usd), params.outlier_pct, excluded
    )
    if not included or len(included) < params.min_exchanges:
        return None
    summary = summarize_prices([price for _, price, _ in included])
    state.vol.observe(now_ms, summary.mean)
    quotes = _quotes(symbol, state, included, now_ms, usd)
    avg_funding, funding_delta = funding_aggregates(
        [q.funding_8h for q in quotes.values() if q.funding_8h is not None]
    )
    best = nbbo(quotes)
    return NormalizedSnapshot(
        symbol=symbol,
        ts_ms=now_ms,
        avg_price=summary.mean,
        median_price=summary.median,
        price_divergence=summary.pstd,
        exchange_divergence=summary.spread_frac,
        funding_delta=funding_delta,
        avg_funding_rate=avg_funding,
        volatility_factor=state.vol.factor(),
        num_exchanges=len(included),
        venues=quotes,
        best_bid=best.best_bid,
        best_bid_exchange=best.best_bid_exchange,
        best_ask=best.best_ask,
        best_ask_exchange=best.best_ask_exchange,
        best_bid_size=best.best_bid_size,
        best_ask_size=best.best_ask_size,
        arb_bps=best.arb_bps,
        excluded=dict(sorted(excluded.items())),
    )
