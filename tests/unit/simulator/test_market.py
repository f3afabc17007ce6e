"""The synthetic market: deterministic for a seed, venues within the configured band."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import pytest

from microservices.exchange_simulator.bars import MINUTE_MS, boundaries
from microservices.exchange_simulator.config import MarketConfig, market_venues
from microservices.exchange_simulator.events import make_instrument
from microservices.exchange_simulator.market import (
    BarUpdate,
    Liquidation,
    Mark,
    MarketModel,
    Quote,
    Trade,
)

START = 1_700_000_000_000
ALL_PAIRS = frozenset((v, s) for v in market_venues() for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT"))


def run(cfg: MarketConfig, steps: int, step_ms: int = 50) -> tuple[MarketModel, list[object]]:
    model = MarketModel(cfg, START)
    events: list[object] = []
    for i in range(1, steps + 1):
        events += model.step(START + i * step_ms, ALL_PAIRS)
    return model, events


def test_same_seed_same_market() -> None:
    _, first = run(MarketConfig(seed=7), 200)
    _, second = run(MarketConfig(seed=7), 200)
    assert first == second
    assert len(first) > 1000


def test_other_seed_other_market() -> None:
    _, first = run(MarketConfig(seed=7), 50)
    _, second = run(MarketConfig(seed=8), 50)
    assert first != second


def test_history_is_deterministic_and_ends_at_the_start_price() -> None:
    a = MarketModel(MarketConfig(seed=3), START)
    b = MarketModel(MarketConfig(seed=3), START)
    bars_a = a.klines("binance", "BTCUSDT", MINUTE_MS, None, None, 500)
    assert bars_a == b.klines("binance", "BTCUSDT", MINUTE_MS, None, None, 500)
    assert bars_a[-2].close == pytest.approx(65_000.0)  # last history bar, then the open bar
    assert all(x.open_ms + MINUTE_MS == y.open_ms for x, y in itertools.pairwise(bars_a))


def test_starting_prices() -> None:
    model = MarketModel(MarketConfig(symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT")), START)
    assert model.true_price("BTCUSDT") == pytest.approx(65_000.0)
    assert model.true_price("ETHUSDT") == pytest.approx(3_500.0)
    assert model.true_price("SOLUSDT") == pytest.approx(150.0)
    xrp = make_instrument("XRPUSDT").start_price
    assert xrp == make_instrument("XRPUSDT").start_price  # derived from the name
    assert 0.1 <= xrp <= 1000


@pytest.mark.parametrize("divergence", [0.0, 40.0])
def test_venue_prices_stay_within_the_band(divergence: float) -> None:
    cfg = MarketConfig(divergence_bps=divergence, divergence_period_s=10.0, volatility=2.0)
    model = MarketModel(cfg, START)
    band = model.price_band_bps()
    widest = 0.0
    for i in range(1, 400):
        model.step(START + i * 50, ALL_PAIRS)
        for symbol in cfg.symbols:
            mids = [model.book(v, symbol).mid for v in market_venues()]
            spread_bps = (max(mids) / min(mids) - 1) * 1e4
            assert spread_bps <= band
            widest = max(widest, spread_bps)
    if divergence:
        assert widest >= divergence * 0.9  # the drifting venue really drifted


def test_funding_differs_between_perp_venues() -> None:
    _, events = run(MarketConfig(), 100)
    rates = {e.venue: e.funding_rate for e in events if isinstance(e, Mark)}
    assert {v: rates[v] for v in ("binance_futures", "bybit")} == {"binance_futures": 0.0001,
                                                                  "bybit": 0.0003}  # fmt: skip


def test_funding_intervals_scale_the_rate_and_the_settlement_times() -> None:
    cfg = MarketConfig(funding_intervals_h={"binance_futures:SOLUSDT": 4, "bybit:ETHUSDT": 1})
    _, events = run(cfg, 100)
    marks = {(e.venue, e.symbol): e for e in events if isinstance(e, Mark)}
    sol, eth = marks[("binance_futures", "SOLUSDT")], marks[("bybit", "ETHUSDT")]
    assert sol.funding_rate == pytest.approx(0.0001 * 4 / 8)
    assert sol.next_funding_ms % (4 * 3_600_000) == 0
    assert sol.next_funding_ms - sol.ts_ms <= 4 * 3_600_000
    assert eth.funding_rate == pytest.approx(0.0003 / 8)
    assert eth.next_funding_ms - eth.ts_ms <= 3_600_000
    assert marks[("binance_futures", "BTCUSDT")].funding_rate == 0.0001


@pytest.mark.parametrize(
    "intervals",
    [{"kraken:BTCUSDT": 4}, {"bybit:DOGEUSDT": 4}, {"bybit:BTCUSDT": 0}, {"bybit": 4}],
)
def test_bad_funding_intervals_are_refused(intervals: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="funding interval"):
        MarketConfig(funding_intervals_h=intervals)


def test_event_mix_and_quote_sanity() -> None:
    _, events = run(MarketConfig(rate=200, liquidations_per_min=120), 200)
    kinds = {type(e) for e in events}
    assert {Trade, Quote, BarUpdate, Mark, Liquidation} <= kinds
    for e in events:
        if isinstance(e, Quote):
            assert 0 < e.bid < e.ask and e.bid_qty > 0 and e.ask_qty > 0
        if isinstance(e, Trade):
            assert e.price > 0 and e.qty > 0


def test_trade_ids_and_sequences_increase_per_pair() -> None:
    _, events = run(MarketConfig(rate=100), 100)
    last: dict[tuple[str, str], int] = {}
    for e in events:
        if isinstance(e, Trade):
            key = (e.venue, e.symbol)
            assert e.trade_id > last.get(key, 0)
            last[key] = e.trade_id


def test_bars_are_built_from_the_trades() -> None:
    model = MarketModel(MarketConfig(rate=100), START)
    pair = {("binance", "BTCUSDT")}
    events: list[object] = []
    for i in range(1, 1400):  # crosses at least one minute boundary
        events += model.step(START + i * 50, pair)
    closed = [e for e in events if isinstance(e, BarUpdate) and e.closed]
    assert closed
    bar = closed[0].bar
    trades = [
        e
        for e in events
        if isinstance(e, Trade) and bar.open_ms <= e.ts_ms < bar.open_ms + MINUTE_MS
    ]
    first_bar_open = START - START % MINUTE_MS
    if bar.open_ms > first_bar_open:  # a full minute of watched trades
        assert bar.trades == len(trades)
        assert bar.volume == pytest.approx(sum(t.qty for t in trades))
        assert bar.high == pytest.approx(max(t.price for t in trades))
    assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high


def test_inactive_pairs_move_but_emit_nothing() -> None:
    model = MarketModel(MarketConfig(), START)
    before = model.book("bybit", "ETHUSDT").trade_id
    events = []
    for i in range(1, 200):
        events += model.step(START + i * 50, {("binance", "BTCUSDT")})
    assert {(e.venue, e.symbol) for e in events} == {("binance", "BTCUSDT")}
    assert model.book("bybit", "ETHUSDT").trade_id > before


def test_returns_are_correlated_across_symbols() -> None:
    cfg = MarketConfig(correlation=0.8, noise_bps=0.0)
    model = MarketModel(cfg, START)
    xs, ys = [], []
    prev = (model.true_price("BTCUSDT"), model.true_price("ETHUSDT"))
    for i in range(1, 3000):
        model.step(START + i * 1000)
        now = (model.true_price("BTCUSDT"), model.true_price("ETHUSDT"))
        xs.append(math.log(now[0] / prev[0]))
        ys.append(math.log(now[1] / prev[1]))
        prev = now
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    var = math.sqrt(sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys))
    assert 0.7 < cov / var < 0.9


def test_kline_queries() -> None:
    model, _ = run(MarketConfig(history_minutes=120), 10)
    latest = model.klines("binance", "BTCUSDT", MINUTE_MS, None, None, 5)
    assert len(latest) == 5 and latest[-1].open_ms == START - START % MINUTE_MS
    start = latest[0].open_ms
    forward = model.klines("binance", "BTCUSDT", MINUTE_MS, start, None, 3)
    assert [b.open_ms for b in forward] == [start, start + MINUTE_MS, start + 2 * MINUTE_MS]
    ending = model.klines("binance", "BTCUSDT", MINUTE_MS, None, start, 2)
    assert ending[-1].open_ms == start
    five = model.klines("binance", "BTCUSDT", 5 * MINUTE_MS, None, None, 3)
    assert all(b.open_ms % (5 * MINUTE_MS) == 0 for b in five)


def test_open_interest_is_positive_and_deterministic() -> None:
    model = MarketModel(MarketConfig(), START)
    again = MarketModel(replace(MarketConfig()), START)
    for ts in (START, START + 3_600_000):
        oi = model.open_interest("binance_futures", "BTCUSDT", ts)
        assert oi > 0
        assert oi == again.open_interest("binance_futures", "BTCUSDT", ts)


def test_boundaries() -> None:
    hour = 3_600_000
    assert boundaries(hour, None, None, 3, 10 * hour + 5) == [8 * hour, 9 * hour, 10 * hour]
    assert boundaries(hour, 2 * hour + 1, None, 2, 10 * hour) == [3 * hour, 4 * hour]
    assert boundaries(hour, None, 5 * hour, 2, 10 * hour) == [4 * hour, 5 * hour]
