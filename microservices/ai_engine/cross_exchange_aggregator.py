"""Cross-exchange aggregator core: fold raw records per (symbol, venue), emit throttled snapshots.

The symbol is the records' `group` (the followed symbol, e.g. BTCUSDT), so each venue's own
instrument (Coinbase BTC-USD, canonical BTCUSD) joins the others under one key.

Pure (SPEC section 4): imports no redis, asyncio or aiohttp and never reads the clock; the
service shell feeds records and passes `now_ms`. The rules live in `aggregation/`:
`venue_state` (per-record fold, venue price rule), `snapshot` (freshness, outliers,
aggregates, funding, NBBO), `volatility` (volatility_factor).
"""

from __future__ import annotations

from microservices.ai_engine.aggregation.params import AggregatorParams
from microservices.ai_engine.aggregation.snapshot import SymbolState, build_snapshot
from microservices.common.records import NormalizedSnapshot, RawRecord

__all__ = ["AggregatorParams", "CrossExchangeState"]


class CrossExchangeState:
    """All symbols' cross-venue state; one instance per aggregator process.

    `update` is O(1) per record. `snapshot` and `poll` are O(venues) per symbol. `now_ms`
    passed to `snapshot`/`poll` must not decrease (it drives volume eviction and the
    volatility sampling buckets).
    """

    __slots__ = ("_params", "_symbols")

    def __init__(self, params: AggregatorParams) -> None:
        self._params = params
        self._symbols: dict[str, SymbolState] = {}

    def update(self, record: RawRecord) -> None:
        """Fold one raw record of any type and symbol under its group; the venue key is
        `record.exchange`.

        Typed as the RawRecord base (what stream decoding yields) rather than the AnyRaw union,
        so callers need no cast; record classes outside AnyRaw are ignored.

        Late records (older `ts_ms` than the held one of the same kind) and duplicate trades are
        ignored, so re-delivery never changes a snapshot. Liquidations only refresh the venue's
        last-seen time.
        """
        group = record.group  # venues meet under the followed symbol (Coinbase BTCUSD: BTCUSDT)
        state = self._symbols.get(group)
        if state is None:
            state = self._symbols[group] = SymbolState(self._params)
        venue = state.venues.get(record.exchange)
        if venue is None:
            venue = state.add_venue(record.exchange, record.market)
        if venue.apply(record):
            state.dirty = True

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
        return build_snapshot(symbol, state, now_ms)

    def poll(self, now_ms: int) -> list[NormalizedSnapshot]:
        """Throttled emission for every symbol, in sorted symbol order.

        A symbol emits when at least min_emit_interval_ms passed since its last emission and
        either a record changed its state since then or max_emit_interval_ms passed and at
        least one venue is fresh (heartbeat). Its first emission happens as soon as a snapshot
        exists. Symbols whose snapshot is None emit nothing and are retried on the next poll.
        """
        params = self._params
        out: list[NormalizedSnapshot] = []
        for symbol in sorted(self._symbols):
            state = self._symbols[symbol]
            last = state.last_emit_ms
            if last is not None:
                elapsed = now_ms - last
                if elapsed < params.min_emit_interval_ms:
                    continue
                heartbeat = elapsed >= params.max_emit_interval_ms and state.any_fresh(now_ms)
                if not (state.dirty or heartbeat):
                    continue
            snap = build_snapshot(symbol, state, now_ms)
            if snap is None:
                continue
            state.last_emit_ms = now_ms
            state.dirty = False
            out.append(snap)
        return out

    def symbols(self) -> list[str]:
        """Every symbol seen so far, sorted."""
        return sorted(self._symbols)

    def venue_status(self, now_ms: int) -> dict[str, dict[str, int]]:
        """symbol -> venue -> ms since the newest receive time of any record (>= 0), for /health."""
        return {
            symbol: {name: max(now_ms - state.venues[name].last_seen_ms, 0) for name in state.names}
            for symbol, state in sorted(self._symbols.items())
        }
