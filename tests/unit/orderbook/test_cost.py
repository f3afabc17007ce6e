"""Execution cost per venue and consolidated: hand-worked walks, remainder, split, fees."""

from __future__ import annotations

import pytest

from microservices.common.orderbook.book import OrderBook
from microservices.common.orderbook.cost import (
    consolidated_cost,
    cost_by_venue,
    venue_cost,
)


def _book(bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> OrderBook:
    book = OrderBook()
    book.load(bids, asks)
    return book


# mid = (99 + 100) / 2 = 99.5; asks hold 100 + 202 + 510 = 812 USD, bids 99 + 196 + 291 = 586
BOOK = _book([(99.0, 1.0), (98.0, 2.0), (97.0, 3.0)], [(100.0, 1.0), (101.0, 2.0), (102.0, 5.0)])


def test_buy_walks_the_asks_and_fills_the_last_level_in_part() -> None:
    # $250: all of 100 x 1 ($100), then $150 of the 101 level = 150/101 base.
    # base = 1 + 150/101 = 251/101; avg = 250 / (251/101) = 25250/251 = 100.5976...
    cost = venue_cost(BOOK, "buy", 250.0, venue="binance", fee_bps=10.0)
    assert cost.side == "buy"
    assert cost.notional_requested == 250.0
    assert cost.notional_filled == 250.0
    assert cost.remainder == 0.0
    assert cost.base_filled == pytest.approx(251 / 101, rel=1e-12)
    assert cost.avg_price == pytest.approx(25250 / 251, rel=1e-12)
    assert cost.mid == 99.5
    # (25250/251 - 99.5) / 99.5 * 1e4 = 275.5 / (251 * 99.5) * 1e4 = 110.312...
    assert cost.cost_bps == pytest.approx(275.5 / (251 * 99.5) * 1e4, rel=1e-9)
    assert cost.fee_bps == pytest.approx(10.0, rel=1e-12)
    assert cost.fee_usd == pytest.approx(0.25, rel=1e-12)  # 250 * 10 / 1e4
    assert cost.levels_used == 2
    assert list(cost.split) == ["binance"]
    fill = cost.split["binance"]
    assert (fill.notional_usd, fill.levels_used) == (250.0, 2)
    assert fill.base == pytest.approx(251 / 101, rel=1e-12)
    assert fill.fee_usd == pytest.approx(0.25, rel=1e-12)


def test_sell_walks_the_bids_and_cost_is_positive_when_worse_than_mid() -> None:
    # $250: all of 99 x 1 ($99), then $151 of the 98 level = 151/98 base.
    # base = 249/98; avg = 250 * 98 / 249 = 24500/249 = 98.393...
    cost = venue_cost(BOOK, "sell", 250.0)
    assert cost.base_filled == pytest.approx(249 / 98, rel=1e-12)
    assert cost.avg_price == pytest.approx(24500 / 249, rel=1e-12)
    # (99.5 - 24500/249) / 99.5 * 1e4 = (24775.5 - 24500) / (249 * 99.5) * 1e4 = 111.198...
    assert cost.cost_bps == pytest.approx(275.5 / (249 * 99.5) * 1e4, rel=1e-9)
    assert cost.cost_bps is not None
    assert cost.cost_bps > 0
    assert cost.fee_bps == 0.0
    assert cost.fee_usd == 0.0


def test_exact_level_boundaries() -> None:
    one = venue_cost(BOOK, "buy", 100.0)
    assert (one.levels_used, one.base_filled, one.avg_price, one.remainder) == (1, 1.0, 100.0, 0.0)
    # $302 = 100 + 202: two whole levels, 3 base, avg 302/3
    two = venue_cost(BOOK, "buy", 302.0)
    assert (two.levels_used, two.base_filled, two.remainder) == (2, 3.0, 0.0)
    assert two.avg_price == pytest.approx(302 / 3, rel=1e-12)


def test_notional_larger_than_the_book_reports_the_remainder() -> None:
    cost = venue_cost(BOOK, "buy", 10_000.0)
    assert cost.notional_filled == 812.0  # 100 + 202 + 510
    assert cost.remainder == 9188.0
    assert cost.base_filled == 8.0
    assert cost.avg_price == 101.5  # 812 / 8
    assert cost.levels_used == 3
    assert cost.cost_bps == pytest.approx(2 / 99.5 * 1e4, rel=1e-12)  # (101.5 - 99.5) / 99.5
    sold = venue_cost(BOOK, "sell", 1_000.0)
    assert (sold.notional_filled, sold.remainder, sold.base_filled) == (586.0, 414.0, 6.0)


def test_empty_and_one_sided_books() -> None:
    empty = venue_cost(OrderBook(), "buy", 100.0)
    assert (empty.notional_filled, empty.remainder, empty.base_filled) == (0.0, 100.0, 0.0)
    assert (empty.avg_price, empty.mid, empty.cost_bps, empty.levels_used) == (None, None, None, 0)
    asks_only = venue_cost(_book([], [(10.0, 1.0)]), "buy", 5.0)
    assert asks_only.avg_price == 10.0
    assert asks_only.mid is None
    assert asks_only.cost_bps is None


def test_usd_rate_scales_prices_of_one_venue() -> None:
    # quoted in a stablecoin at 0.5 USD (exact in binary): asks 50, 50.5, 51; mid 49.75
    cost = venue_cost(BOOK, "buy", 125.0, usd_rate=0.5)
    # $50 at 50 (1 base), then $75 at 50.5 = 75/50.5 base
    assert cost.base_filled == pytest.approx(1 + 75 / 50.5, rel=1e-12)
    assert cost.mid == 49.75
    assert cost.cost_bps == pytest.approx((125 / (1 + 75 / 50.5) - 49.75) / 49.75 * 1e4, rel=1e-9)


def _venues() -> dict[str, OrderBook]:
    return {
        "binance": _book([(99.0, 1.0)], [(100.0, 1.0), (102.0, 2.0)]),
        "bybit": _book([(98.0, 2.0)], [(101.0, 1.0), (103.0, 5.0)]),
    }


def test_consolidated_walk_splits_across_venues() -> None:
    # merged asks: 100 binance, 101 bybit, 102 binance, 103 bybit. $400:
    # $100 binance (1 base), $101 bybit (1 base), then $199 of binance's 102 = 199/102 base.
    fees = {"binance": 10.0, "bybit": 5.0}
    cost = consolidated_cost(_venues(), "buy", 400.0, fee_bps=fees)
    assert cost.notional_filled == 400.0
    assert cost.remainder == 0.0
    assert cost.levels_used == 3
    assert cost.base_filled == pytest.approx(2 + 199 / 102, rel=1e-12)
    assert cost.avg_price == pytest.approx(40800 / 403, rel=1e-12)  # 400 / (403/102)
    assert cost.mid == 99.5  # NBBO: binance bid 99, binance ask 100
    assert cost.cost_bps == pytest.approx((40800 / 403 - 99.5) / 99.5 * 1e4, rel=1e-9)
    binance, bybit = cost.split["binance"], cost.split["bybit"]
    assert (binance.notional_usd, binance.levels_used) == (299.0, 2)
    assert binance.base == pytest.approx(1 + 199 / 102, rel=1e-12)
    assert binance.fee_usd == pytest.approx(0.299, rel=1e-12)  # 299 * 10 bps
    assert (bybit.notional_usd, bybit.base, bybit.levels_used) == (101.0, 1.0, 1)
    assert bybit.fee_usd == pytest.approx(0.0505, rel=1e-12)  # 101 * 5 bps
    assert cost.fee_usd == pytest.approx(0.3495, rel=1e-12)
    assert cost.fee_bps == pytest.approx(8.7375, rel=1e-12)  # 0.3495 / 400 * 1e4


def test_fees_are_reported_apart_from_cost_bps() -> None:
    with_fees = consolidated_cost(_venues(), "buy", 400.0, fee_bps={"binance": 10.0})
    without = consolidated_cost(_venues(), "buy", 400.0)
    assert with_fees.cost_bps == without.cost_bps
    assert with_fees.avg_price == without.avg_price
    assert without.fee_usd == 0.0
    assert with_fees.fee_usd == pytest.approx(0.299, rel=1e-12)


def test_consolidated_uses_usd_rates_and_nbbo_mid() -> None:
    # bybit at 0.99: asks 99.99 and 101.97, bid 97.02. NBBO: bid 99 (binance), ask 99.99.
    # $150: $99.99 bybit (1 base), then $50.01 of binance's 100 = 0.5001 base.
    cost = consolidated_cost(_venues(), "buy", 150.0, usd_rate={"bybit": 0.99})
    assert cost.mid == pytest.approx((99.0 + 99.99) / 2, rel=1e-12)
    assert cost.split["bybit"].notional_usd == pytest.approx(99.99, rel=1e-12)
    assert cost.split["binance"].base == pytest.approx(0.5001, rel=1e-12)
    assert cost.base_filled == pytest.approx(1.5001, rel=1e-12)


def test_consolidated_remainder_and_sell_split() -> None:
    # bids: 99 binance ($99), 98 x 2 bybit ($196); $500 sells everything, $205 left
    cost = consolidated_cost(_venues(), "sell", 500.0)
    assert (cost.notional_filled, cost.remainder, cost.base_filled) == (295.0, 205.0, 3.0)
    assert cost.split["binance"].notional_usd == 99.0
    assert cost.split["bybit"].base == 2.0


def test_cost_by_venue_uses_each_venue_mid() -> None:
    costs = cost_by_venue(_venues(), "buy", 100.0, fee_bps={"bybit": 5.0})
    assert costs["binance"].mid == 99.5  # (99 + 100) / 2
    assert costs["binance"].avg_price == 100.0
    assert costs["bybit"].mid == 99.5  # (98 + 101) / 2
    # bybit: $100 of the 101 level; cost (101 - 99.5) / 99.5 * 1e4
    assert costs["bybit"].cost_bps == pytest.approx(1.5 / 99.5 * 1e4, rel=1e-12)
    assert costs["bybit"].fee_usd == pytest.approx(0.05, rel=1e-12)
    assert list(costs["bybit"].split) == ["bybit"]
