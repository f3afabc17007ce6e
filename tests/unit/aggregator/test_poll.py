"""poll() throttling, symbols() and venue_status()."""

from __future__ import annotations

from microservices.ai_engine.cross_exchange_aggregator import AggregatorParams, CrossExchangeState
from microservices.common.records import Liquidation
from tests.unit.aggregator.builders import SYMBOL, T0, quote


def emitted_at(state: CrossExchangeState, at: int) -> list[str]:
    return [snap.symbol for snap in state.poll(T0 + at)]


def two_venues(at: int = 0, mid: float = 100.0, symbol: str = SYMBOL) -> CrossExchangeState:
    state = CrossExchangeState(AggregatorParams())
    state.update(quote("binance", mid, at, symbol=symbol))
    state.update(quote("bybit", mid, at, symbol=symbol))
    return state


def test_first_poll_emits_then_min_interval_holds_changes_back() -> None:
    state = two_venues()
    assert emitted_at(state, 0) == [SYMBOL]
    state.update(quote("binance", 100.5, 100))
    assert emitted_at(state, 100) == []  # changed, but only 100 ms since the last emission
    assert emitted_at(state, 249) == []
    snaps = state.poll(T0 + 250)  # 250 ms: the pending change goes out
    assert [s.venues["binance"].price for s in snaps] == [100.5]
    assert snaps[0].ts_ms == T0 + 250


def test_unchanged_symbol_waits_for_max_interval_heartbeat() -> None:
    state = two_venues()
    assert emitted_at(state, 0) == [SYMBOL]
    assert emitted_at(state, 500) == []  # nothing changed
    assert emitted_at(state, 999) == []
    assert emitted_at(state, 1_000) == [SYMBOL]  # heartbeat while venues are fresh
    assert emitted_at(state, 1_999) == []
    assert emitted_at(state, 2_000) == [SYMBOL]


def test_no_heartbeat_once_data_is_stale() -> None:
    state = two_venues()
    assert emitted_at(state, 0) == [SYMBOL]
    assert emitted_at(state, 10_000) == [SYMBOL]  # exactly stale_after_ms: still fresh
    assert emitted_at(state, 11_000) == []  # all venues stale: no snapshot, no heartbeat
    state.update(quote("binance", 101.0, 11_500))
    state.update(quote("bybit", 101.0, 11_500))
    assert emitted_at(state, 11_500) == [SYMBOL]


def test_duplicate_records_do_not_trigger_emission() -> None:
    state = two_venues()
    assert emitted_at(state, 0) == [SYMBOL]
    state.update(quote("binance", 100.0, 0))  # the same ticker again
    assert emitted_at(state, 300) == []


def test_symbol_below_min_exchanges_is_skipped_until_it_qualifies() -> None:
    state = two_venues()
    state.update(quote("binance", 3_000.0, 0, symbol="ETHUSDT"))
    assert emitted_at(state, 0) == [SYMBOL]
    state.update(quote("bybit", 3_001.0, 100, symbol="ETHUSDT"))
    assert emitted_at(state, 100) == ["ETHUSDT"]  # BTCUSDT still inside its min interval
    assert state.symbols() == ["BTCUSDT", "ETHUSDT"]


def test_direct_snapshot_is_not_an_emission() -> None:
    state = two_venues()
    assert state.snapshot(SYMBOL, T0) is not None
    assert emitted_at(state, 0) == [SYMBOL]


def test_venue_status_ages() -> None:
    state = two_venues()
    state.update(
        Liquidation(
            exchange="bybit", market="perp", symbol=SYMBOL, venue_symbol=SYMBOL, group=SYMBOL,
            quote="USDT", ts_ms=T0 + 400, recv_ms=T0 + 700, price=100.0, size=1.0, side="sell",
        )
    )  # fmt: skip
    assert state.venue_status(T0 + 1_000) == {SYMBOL: {"binance": 1_000, "bybit": 300}}
    assert state.venue_status(T0 - 5) == {SYMBOL: {"binance": 0, "bybit": 0}}
