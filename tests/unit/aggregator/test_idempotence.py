"""Late and duplicate delivery must not change snapshots; invariants on random record streams."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from microservices.ai_engine.cross_exchange_aggregator import AggregatorParams, CrossExchangeState
from microservices.common import derived_schemas
from microservices.common.records import AnyRaw, NormalizedSnapshot
from microservices.data_collector import exchanges
from tests.factories import assert_wire_round_trip
from tests.unit.aggregator.builders import (
    SYMBOL,
    T0,
    funding,
    kline,
    open_interest,
    ticker,
    trade,
)

VENUES = tuple(exchanges.default_venues())


def session() -> list[AnyRaw]:
    """Five seconds of mixed records on the default venues, in delivery order."""
    rng = random.Random(7)
    records: list[AnyRaw] = []
    for at in range(0, 5_000, 50):
        venue = VENUES[at // 50 % len(VENUES)]
        mid = 100.0 + rng.uniform(-0.5, 0.5)
        records.append(ticker(venue, mid - 0.05, mid + 0.05, at))
        records.append(trade(venue, mid, at + 1, size=rng.uniform(0.1, 2.0), trade_id=f"t{at}"))
        records.append(trade(venue, mid + 0.01, at + 1, size=0.3, trade_id=f"u{at}"))
        if at % 1_000 == 0:
            records.append(kline(venue, mid, at))
            records.append(funding("bybit", 0.0001 * (1 + at // 1_000), 8.0, at))
            records.append(open_interest("binance_futures", 100.0 + at, None, at))
    return records


def snapshot_after(records: list[AnyRaw]) -> NormalizedSnapshot | None:
    state = CrossExchangeState(AggregatorParams())
    for record in records:
        state.update(record)
    return state.snapshot(SYMBOL, T0 + 5_000)


def test_applying_everything_twice_changes_nothing() -> None:
    records = session()
    once = snapshot_after(records)
    assert once is not None and once.num_exchanges == 4
    assert snapshot_after(records + records) == once
    assert snapshot_after([r for r in records for _ in range(2)]) == once


def test_old_records_after_new_ones_change_nothing() -> None:
    records = session()
    once = snapshot_after(records)
    late = records[: len(records) // 2]
    random.Random(3).shuffle(late)
    assert snapshot_after(records + late) == once


def test_older_ticker_after_newer_keeps_the_newer() -> None:
    new, old = ticker("binance", 101.0, 102.0, 500), ticker("binance", 99.0, 100.0, 100)
    other = ticker("bybit", 100.0, 101.0, 500)
    assert snapshot_after([other, new, old]) == snapshot_after([other, new])


def test_duplicate_trade_counted_once() -> None:
    base: list[AnyRaw] = [ticker("bybit", 100.0, 101.0, 0), trade("binance", 100.0, 10, size=2.0)]
    once = snapshot_after(base)
    assert once is not None and once.venues["binance"].volume == 2.0
    assert snapshot_after([*base, base[1]]) == once
    late = trade("binance", 99.0, 5, size=1.0, trade_id="late")  # older than the held trade
    assert snapshot_after([*base, late]) == once


record_strategy = st.builds(
    lambda venue, mid, half, at, kind: (
        ticker(venue, mid - half, mid + half, at) if kind else trade(venue, mid, at)
    ),
    st.sampled_from(VENUES),
    st.floats(min_value=50.0, max_value=150.0),
    st.floats(min_value=0.0, max_value=1.0),
    st.integers(min_value=0, max_value=20_000),
    st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(record_strategy, max_size=40), st.integers(min_value=0, max_value=25_000))
def test_snapshot_invariants(records: list[AnyRaw], at: int) -> None:
    state = CrossExchangeState(AggregatorParams())
    for record in records:
        state.update(record)
    snap = state.snapshot(SYMBOL, T0 + at)
    if snap is None:
        return
    prices = [quote.price for quote in snap.venues.values()]
    assert snap.num_exchanges == len(prices) >= 2
    assert min(prices) - 1e-9 <= snap.avg_price <= max(prices) + 1e-9
    assert not set(snap.venues) & set(snap.excluded)
    assert snap.arb_bps >= 0.0 and math.isfinite(snap.price_divergence)
    assert_wire_round_trip(derived_schemas.NORMALIZED, snap)
