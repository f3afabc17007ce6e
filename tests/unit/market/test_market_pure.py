"""The pure market functions worked by hand: venue health and the fallback order, ranking by
price and by cost, arbitrage persistence, and names resolved."""

from __future__ import annotations

import pytest

from microservices.ai_engine.market.arbitrage import RunScanner, profit_bps, scan
from microservices.ai_engine.market.assets import resolve_symbol, resolve_venues
from microservices.ai_engine.market.best_price import rank_costs, rank_quotes
from microservices.ai_engine.market.view import build_market, stale_copy
from microservices.common.orderbook.cost import ExecutionCost
from microservices.common.records import NormalizedSnapshot
from tests.unit.market.helpers import snap

NOW = 1_700_000_010_000
STALE_MS = 10_000


def test_first_ok_venue_of_the_order_answers_with_its_stats() -> None:
    """The entry is 2 s old: bybit's price (age 9 s in it) is 11 s old now: stale."""
    entry = snap("BTCUSDT", NOW - 2_000, {
        "binance": (100.0, 99.9, 100.1, 500), "bybit": (101.0, 100.9, 101.1, 9_000),
        "coinbase": (100.5, 100.4, 100.6, 1_000)}, excluded={})  # fmt: skip
    stats = {"coinbase": {"venue_symbol": "BTC-USD", "volume_24h": 12.5,
                          "volume_usd_24h": 1_256_250.0, "price_change_24h": None,
                          "ts_ms": NOW - 60_000}}  # fmt: skip
    order = ["bybit", "coinbase", "binance", "okx"]
    answer, rows = build_market("BTCUSDT", entry, stats, order, NOW, STALE_MS)
    assert [(r.venue, r.status) for r in rows] == [
        ("bybit", "stale"),
        ("coinbase", "ok"),
        ("binance", "ok"),
        ("okx", "absent"),
    ]
    assert answer is not None
    assert (answer.venue, answer.price, answer.volume_24h) == ("coinbase", 100.5, 12.5)
    assert answer.age_s == 3.0 and answer.observed_ms == NOW - 3_000
    assert rows[1].stats_age_s == 60.0 and rows[1].venue_symbol == "BTC-USD"
    # NBBO over the ok venues only: bybit's 100.9 bid is stale
    assert (answer.best_bid, answer.best_bid_venue) == (100.4, "coinbase")
    assert (answer.best_ask, answer.best_ask_venue) == (100.1, "binance")
    assert answer.total_volume_usd_24h == 1_256_250.0


def test_no_ok_venue_gives_no_answer_and_the_last_good_one_ages() -> None:
    good = snap("BTCUSDT", NOW - 30_000, {"binance": (100.0, None, None, 0)})
    answer, _ = build_market("BTCUSDT", good, {}, ["binance"], NOW - 30_000, STALE_MS)
    assert answer is not None
    entry = snap("BTCUSDT", NOW, {}, excluded={"binance": "stale", "bybit": "outlier"})
    none, rows = build_market("BTCUSDT", entry, {}, ["binance", "bybit"], NOW, STALE_MS)
    assert none is None and [r.status for r in rows] == ["stale", "outlier"]
    old = stale_copy(answer, rows, NOW)
    assert (old.stale, old.age_s, old.venue, old.price) == (True, 30.0, "binance", 100.0)


def test_rank_quotes_spreads_vs_the_best() -> None:
    buy = rank_quotes([("a", 100.0, 1.0), ("b", 100.5, 2.0), ("c", 100.0, 0.5)], "buy")
    assert [(r.venue, r.spread_bps) for r in buy] == [("a", 0.0), ("c", 0.0),
                                                      ("b", pytest.approx(50.0))]  # fmt: skip
    assert buy[2].spread_pct == pytest.approx(0.5)
    sell = rank_quotes([("a", 99.0, None), ("b", 99.99, None)], "sell")
    assert [r.venue for r in sell] == ["b", "a"]
    assert sell[1].spread_bps == pytest.approx(0.99 / 99.99 * 1e4)


def _cost(avg: float | None, fee: float, remainder: float = 0.0) -> ExecutionCost:
    return ExecutionCost(side="buy", notional_requested=1000.0,
                         notional_filled=1000.0 - remainder, remainder=remainder,
                         base_filled=0.0, avg_price=avg, mid=None, cost_bps=None,
                         fee_bps=fee, fee_usd=0.0, levels_used=1)  # fmt: skip


def test_rank_costs_with_fees_and_partial_fills_last() -> None:
    """a: 100 + 10 bps = 100.1; b: 100.05 no fee; c fills partly at 99; d fills nothing."""
    ranked = rank_costs({"a": _cost(100.0, 10.0), "b": _cost(100.05, 0.0),
                         "c": _cost(99.0, 0.0, remainder=5.0), "d": _cost(None, 0.0)},
                        "buy")  # fmt: skip
    assert [r.venue for r in ranked] == ["b", "a", "c"]
    assert ranked[1].price == pytest.approx(100.1)
    assert ranked[1].spread_bps == pytest.approx(0.05 / 100.05 * 1e4)
    assert ranked[2].complete is False


def test_arbitrage_persistence_is_the_unbroken_run_above_the_threshold() -> None:
    """ETH: crossed 5.0 bps at t=4000 and 3000, 2.0 bps at 2000, crossed at 1000: with 5 bps
    the run started at 3000 (1 s); with 1 bps at 1000 (3 s, the oldest entry: at_least)."""

    def eth(ts: int, bid: float) -> NormalizedSnapshot:
        return snap("ETHUSDT", ts, {"a": (bid, bid, bid + 1, 0), "b": (999.5, 999.0, 999.5, 0)})

    btc = snap("BTCUSDT", 4_000, {"a": (100.0, 99.0, 100.0, 0)})  # one venue: no arbitrage
    entries = [eth(4_000, 1000.0), btc, eth(3_000, 1000.0), eth(2_000, 999.7), eth(1_000, 1000.0)]
    assert profit_bps(entries[0]) == pytest.approx(0.5 / 999.75 * 1e4)
    found = scan(entries, 4.0, fresh_after_ms=0)
    assert len(found) == 1
    opp = found[0]
    assert (opp.symbol, opp.buy_venue, opp.sell_venue, opp.buy_price, opp.sell_price) == (
        "ETHUSDT",
        "b",
        "a",
        999.5,
        1000.0,
    )
    assert (opp.persisted_ms, opp.at_least) == (1_000, False)
    longer = scan(entries, 1.0, fresh_after_ms=0)[0]
    assert (longer.persisted_ms, longer.at_least) == (3_000, True)
    assert scan(entries, 4.0, fresh_after_ms=5_000) == []


def test_names() -> None:
    followed = ["BTCUSDT", "POLUSDT", "ETHBTC"]
    assert resolve_symbol("matic", followed) == "POLUSDT"
    assert resolve_symbol("BTC-USD", followed) == "BTCUSDT"
    assert resolve_symbol("ethbtc", followed) == "ETHBTC"
    assert resolve_symbol("DOGE", followed) is None
    venues = ["binance", "binance_futures", "kucoin", "bybit_spot"]
    assert resolve_venues("Binance", venues) == ["binance", "binance_futures"]
    assert resolve_venues("KuCoin", venues) == ["kucoin"]
    assert resolve_venues("okx", venues) == []


def test_scanner_settles_when_older_entries_can_change_nothing() -> None:
    """Fresh after t=3000: after ETH's run breaks at 2000 the scan may stop; before that, or
    while a seen run is open, it may not."""
    scanner = RunScanner(1.0, fresh_after_ms=3_000)
    crossed = {"a": (1000.0, 1000.0, 1001.0, 0), "b": (999.5, 999.0, 999.5, 0)}
    flat = {"a": (1000.0, 999.0, 1001.0, 0), "b": (1000.0, 999.0, 1001.0, 0)}
    scanner.feed(snap("ETHUSDT", 4_000, crossed))
    assert not scanner.settled(4_000)
    scanner.feed(snap("ETHUSDT", 2_000, flat))
    assert scanner.settled(2_000) and not scanner.settled(3_000)
    [opp] = scanner.opportunities()
    assert (opp.persisted_ms, opp.at_least) == (0, False)


def test_a_venue_the_collector_reports_down_hands_over_at_once() -> None:
    entry = snap("BTCUSDT", NOW, {"bybit": (101.0, None, None, 0),
                                  "binance": (100.0, None, None, 0)})  # fmt: skip
    answer, rows = build_market("BTCUSDT", entry, {}, ["bybit", "binance"], NOW, STALE_MS,
                                down={"bybit"})  # fmt: skip
    assert answer is not None and answer.venue == "binance"
    assert [r.status for r in rows] == ["down", "ok"]


def test_a_venue_whose_rest_answers_are_refused_is_degraded_and_skipped() -> None:
    entry = snap("BTCUSDT", NOW, {"bybit": (101.0, None, None, 0),
                                  "binance": (100.0, None, None, 0)})  # fmt: skip
    answer, rows = build_market("BTCUSDT", entry, {}, ["bybit", "binance"], NOW, STALE_MS,
                                degraded={"bybit"})  # fmt: skip
    assert answer is not None and answer.venue == "binance" and answer.price == 100.0
    assert [r.status for r in rows] == ["degraded", "ok"]
