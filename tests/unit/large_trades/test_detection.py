"""Large-trade detection and the market-alert rules, on hand-worked numbers."""

from __future__ import annotations

import pytest

from microservices.ai_engine.large_trades.params import AlertParams, base_of
from microservices.ai_engine.large_trades.rules import funding_8h_pct
from microservices.ai_engine.large_trades.watch import MarketWatch
from microservices.common.instruments import USD_EQUIVALENTS
from microservices.common.records import Funding, Liquidation, OpenInterest, Ticker, Trade

T0 = 1_763_116_215_000


def trade(price: float, size: float, *, venue: str = "coinbase", vsym: str = "BTC-USD",
          symbol: str = "BTCUSD", group: str = "BTCUSDT", quote: str = "USD",
          ts: int = T0, tid: str = "1", side: str = "buy") -> Trade:  # fmt: skip
    return Trade(
        exchange=venue, market="spot", symbol=symbol, venue_symbol=vsym, group=group,
        quote=quote, ts_ms=ts, recv_ms=ts + 5, price=price, size=size, side=side, trade_id=tid,
    )  # type: ignore[arg-type]  # fmt: skip


def liquidation(price: float, size: float, ts: int, side: str = "sell",
                venue: str = "binance_futures") -> Liquidation:  # fmt: skip
    return Liquidation(
        exchange=venue, market="perp", symbol="ETHUSDT", venue_symbol="ETHUSDT", group="ETHUSDT",
        quote="USDT", ts_ms=ts, recv_ms=ts, price=price, size=size, side=side,
    )  # type: ignore[arg-type]  # fmt: skip


def test_base_of_groups() -> None:
    usd = USD_EQUIVALENTS
    assert base_of("BTCUSDT", "USD", usd) == "BTC"
    assert base_of("ETHBTC", "BTC", usd) == "ETH"
    assert base_of("1000PEPEUSDT", "USDT", usd) == "1000PEPE"
    assert base_of("SOLUSDT", "", usd) == "SOL"


def test_seed_thresholds_per_base() -> None:
    watch = MarketWatch(AlertParams())
    # BTC: 2.5 x 50123.45 = 125308.625 >= 100k -> large; 1.9 x 50000 = 95000 -> not
    watch.update(trade(50123.45, 2.5, tid="a"))
    watch.update(trade(50000.0, 1.9, tid="b"))
    # ETH: 20 x 2600 = 52000 >= 50k; SOL: 150 x 140 = 21000 >= 20k; 142 x 140 = 19880 not
    watch.update(trade(2600.0, 20.0, vsym="ETH-USD", symbol="ETHUSD", group="ETHUSDT", tid="c"))
    watch.update(trade(140.0, 150.0, vsym="SOL-USD", symbol="SOLUSD", group="SOLUSDT", tid="d"))
    watch.update(trade(140.0, 142.0, vsym="SOL-USD", symbol="SOLUSD", group="SOLUSDT", tid="e"))
    trades, alerts = watch.take()
    assert [(t.trade_id, t.value_usd, t.threshold_usd) for t in trades] == [
        ("a", pytest.approx(125308.625), 100_000.0),
        ("c", 52_000.0, 50_000.0),
        ("d", 21_000.0, 20_000.0),
    ]
    first = trades[0]
    assert (first.symbol, first.canonical_symbol, first.row_id) == (
        "BTC-USD", "BTCUSD", "coinbase_BTC-USD_a",
    )  # fmt: skip
    assert [a.type for a in alerts] == ["LARGE_TRADE"] * 3
    assert (
        alerts[0].data["value_usd"] == pytest.approx(125308.625, abs=0.01)
        and alerts[0].severity == "info"
    )
    assert watch.take() == ([], [])


def test_quote_conversion_through_usd_prices() -> None:
    watch = MarketWatch(AlertParams())
    # ETHBTC: 30 ETH at 0.05 BTC = 1.5 BTC; without a BTC price it is counted, not guessed
    eth_btc = trade(0.05, 30.0, venue="binance", vsym="ETHBTC", symbol="ETHBTC",
                    group="ETHBTC", quote="BTC", tid="x")  # fmt: skip
    watch.update(eth_btc)
    assert watch.take() == ([], []) and watch.detector.take_unpriced() == {("binance", "ETHBTC"): 1}
    # a BTCUSDT ticker mid of 40000 prices BTC: 1.5 BTC = $60,000 >= ETH's $50k
    watch.update(Ticker(exchange="binance", market="spot", symbol="BTCUSDT",
                        venue_symbol="BTCUSDT", group="BTCUSDT", quote="USDT", ts_ms=T0,
                        recv_ms=T0, bid=39_999.0, ask=40_001.0, bid_size=1.0, ask_size=1.0))  # fmt: skip
    watch.update(eth_btc)
    trades, _ = watch.take()
    assert [(t.value_usd, t.quote_usd, t.threshold_usd) for t in trades] == [
        (pytest.approx(60_000.0), 40_000.0, 50_000.0)
    ]


def test_stablecoin_own_price_converts_the_quote() -> None:
    watch = MarketWatch(AlertParams())
    # Coinbase USDT-USD at 0.98: a USDT-quoted trade is worth 0.98 USD per USDT
    watch.update(trade(0.98, 1000.0, vsym="USDT-USD", symbol="USDTUSD", group="USDTUSD",
                       tid="s"))  # fmt: skip
    watch.update(trade(101_000.0, 1.0, venue="binance", vsym="BTCUSDT", symbol="BTCUSDT",
                       quote="USDT", tid="u"))  # fmt: skip
    trades, _ = watch.take()
    # 101000 x 1 x 0.98 = 98980 < 100k: not large
    assert trades == []
    watch.update(trade(103_000.0, 1.0, venue="binance", vsym="BTCUSDT", symbol="BTCUSDT",
                       quote="USDT", tid="v"))  # fmt: skip
    trades, _ = watch.take()
    assert [t.value_usd for t in trades] == [pytest.approx(100_940.0)]


def test_redelivered_trade_is_reported_once() -> None:
    watch = MarketWatch(AlertParams())
    big = trade(50_000.0, 3.0, tid="dup")
    watch.update(big)
    watch.update(big)
    trades, alerts = watch.take()
    assert len(trades) == 1 and len(alerts) == 1 and watch.detector.duplicates == 1


def test_liquidations_flagged_and_clustered() -> None:
    params = AlertParams(cluster_count=3, cluster_min_usd=10_000.0, cluster_window_ms=60_000)
    watch = MarketWatch(params)
    # 3000 x 20 = 60000 (large ETH: >= 50k, liquidation); 3000 x 4 = 12000 (clusters only)
    watch.update(liquidation(3000.0, 20.0, T0))
    watch.update(liquidation(3000.0, 4.0, T0 + 10_000))
    watch.update(liquidation(3000.0, 3.0, T0 + 20_000, venue="bybit"))  # 9000 < 10k: ignored
    trades, alerts = watch.take()
    assert [(t.is_liquidation, t.value_usd, t.trade_id) for t in trades] == [
        (True, 60_000.0, f"liq-{T0}-sell-3000.0-20.0")
    ]
    assert [a.type for a in alerts] == ["LARGE_TRADE"] and alerts[0].severity == "warning"
    watch.update(liquidation(3000.0, 5.0, T0 + 30_000, side="buy", venue="bybit"))  # 15000
    _, alerts = watch.take()
    assert [a.type for a in alerts] == ["LIQUIDATION_CLUSTER"]
    cluster = alerts[0]
    assert cluster.symbol == "ETHUSDT" and cluster.venue == ""
    assert cluster.data["count"] == 3 and cluster.data["total_usd"] == 87_000.0
    assert cluster.data["longs_liquidated"] == 2 and cluster.data["shorts_liquidated"] == 1
    assert cluster.data["venues"] == ["binance_futures", "bybit"] and cluster.data["span_s"] == 30


def test_cluster_window_drops_old_liquidations() -> None:
    watch = MarketWatch(AlertParams(cluster_count=3, cluster_window_ms=60_000))
    for i, ts in enumerate((T0, T0 + 50_000, T0 + 115_000)):  # the first is 115 s old: out
        watch.update(liquidation(3000.0, 4.0 + i, ts))
    assert [a.type for a in watch.take()[1]] == []


def funding(rate: float, ts: int, interval_h: float = 8.0) -> Funding:
    return Funding(
        exchange="bybit", market="perp", symbol="BTCUSDT", venue_symbol="BTCUSDT",
        group="BTCUSDT", quote="USDT", ts_ms=ts, recv_ms=ts, funding_rate=rate,
        funding_interval_h=interval_h,
    )  # fmt: skip


def test_funding_8h_equivalent() -> None:
    assert funding_8h_pct(funding(0.0001, T0)) == pytest.approx(0.01)
    assert funding_8h_pct(funding(0.00005, T0, 4.0)) == pytest.approx(0.01)
    assert funding_8h_pct(funding(0.0005, T0, 1.0)) == pytest.approx(0.4)


def test_funding_spike_level_jump_and_cooldown() -> None:
    watch = MarketWatch(AlertParams(funding_abs_pct=0.1, funding_jump_pct=0.05, cooldown_ms=60_000))
    watch.update(funding(0.0001, T0))  # 0.01 %/8h: quiet
    watch.update(funding(0.0007, T0 + 1000))  # 0.07: a jump of +0.06 >= 0.05
    _, alerts = watch.take()
    assert [(a.type, a.data["trigger"], a.severity) for a in alerts] == [
        ("FUNDING_SPIKE", "jump", "info")
    ]
    assert alerts[0].data["funding_8h_pct"] == pytest.approx(0.07)
    watch.update(funding(0.0012, T0 + 2000))  # 0.12 >= 0.1 but within the cooldown
    assert watch.take()[1] == []
    watch.update(funding(0.0004, T0 + 70_000, 2.0))  # 0.0004 per 2 h = 0.16 %/8h, cooled down
    _, alerts = watch.take()
    assert [(a.data["trigger"], a.severity) for a in alerts] == [("level", "warning")]
    assert alerts[0].data["funding_8h_pct"] == pytest.approx(0.16)
    assert alerts[0].data["previous_8h_pct"] == pytest.approx(0.12)


def oi(contracts: float, ts: int) -> OpenInterest:
    return OpenInterest(
        exchange="binance_futures", market="perp", symbol="BTCUSDT", venue_symbol="BTCUSDT",
        group="BTCUSDT", quote="USDT", ts_ms=ts, recv_ms=ts, open_interest=contracts,
    )  # fmt: skip


def test_oi_change_within_window() -> None:
    watch = MarketWatch(AlertParams(oi_change_pct=5.0, oi_window_ms=300_000))
    watch.update(oi(80_000.0, T0))
    watch.update(oi(82_000.0, T0 + 100_000))  # +2.5 %
    assert watch.take()[1] == []
    watch.update(oi(84_400.0, T0 + 200_000))  # +5.5 % over 200 s
    _, alerts = watch.take()
    assert [(a.type, a.severity) for a in alerts] == [("OI_CHANGE", "info")]
    assert alerts[0].data["change_pct"] == pytest.approx(5.5)
    assert alerts[0].data["span_s"] == 200


def test_oi_change_outside_window_is_quiet() -> None:
    watch = MarketWatch(AlertParams(oi_change_pct=5.0, oi_window_ms=300_000))
    watch.update(oi(80_000.0, T0))
    watch.update(oi(82_000.0, T0 + 200_000))
    watch.update(oi(85_000.0, T0 + 400_000))  # 80k is out of the window; vs 82k: +3.66 %
    watch.update(oi(90_000.0, T0 - 1))  # older than the newest: ignored
    assert watch.take()[1] == []


def test_oversized_values_are_counted_not_published() -> None:
    watch = MarketWatch(AlertParams())
    watch.update(trade(1e300, 1e300, tid="huge"))  # price x size overflows to inf
    watch.update(trade(50_000.0, 0.0, tid="empty"))  # size 0: worth nothing
    assert watch.take() == ([], [])
    assert watch.detector.invalid == 1 and watch.detector.take_unpriced() == {}
