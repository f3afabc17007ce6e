"""USD values in the aggregator: stablecoin legs at their own USD price, volume and open
interest in USD (contract sizes, inverse contracts, other quotes through their USD group),
null and counted without a USD price, and DEPEG alerts once per transition."""

from __future__ import annotations

import pytest

from microservices.ai_engine.aggregation.usd_rates import Contract, DepegMonitor, UsdRates
from microservices.ai_engine.cross_exchange_aggregator import AggregatorParams, CrossExchangeState
from microservices.common.market_alerts import MARKET_ALERTS, MarketAlert
from microservices.common.records import Funding, OpenInterest, Ticker, Trade
from tests.unit.aggregator.builders import T0


def head(exchange: str, symbol: str, group: str, quote: str, at: int = 0) -> dict[str, object]:
    market = "perp" if exchange in ("bybit", "binance_futures") else "spot"
    return {"exchange": exchange, "market": market, "symbol": symbol, "venue_symbol": symbol,
            "group": group, "quote": quote, "ts_ms": T0 + at, "recv_ms": T0 + at}  # fmt: skip


def book(exchange: str, symbol: str, group: str, quote: str, bid: float, ask: float,
         at: int = 0) -> Ticker:  # fmt: skip
    return Ticker(**head(exchange, symbol, group, quote, at), bid=bid, bid_size=1.0, ask=ask,
                  ask_size=1.0)  # type: ignore[arg-type]  # fmt: skip


def state_with(*records: object, min_exchanges: int = 2) -> CrossExchangeState:
    state = CrossExchangeState(AggregatorParams(min_exchanges=min_exchanges))
    for record in records:
        state.update(record)  # type: ignore[arg-type]
    return state


def test_a_usdt_leg_is_converted_by_usdts_own_usd_price_and_usd_legs_are_not() -> None:
    """Coinbase USDT-USD mid 0.998: Binance's BTCUSDT mid 100,000 USDT is 99,800 USD, the
    same as Coinbase's BTC-USD 99,800; bid/ask 99,999/100,001 USDT -> 99,799.002/99,800.998."""
    state = state_with(
        book("coinbase", "USDTUSD", "USDTUSD", "USD", 0.9979, 0.9981),
        book("binance", "BTCUSDT", "BTCUSDT", "USDT", 99_999.0, 100_001.0),
        book("coinbase", "BTCUSD", "BTCUSDT", "USD", 99_799.0, 99_801.0),
    )
    state.set_followed(["BTCUSDT"])
    [snap] = state.poll(T0)  # USDTUSD is a reference: not emitted
    assert snap.symbol == "BTCUSDT"
    binance, coinbase = snap.venues["binance"], snap.venues["coinbase"]
    assert binance.price == pytest.approx(99_800.0)
    assert (binance.bid, binance.ask) == pytest.approx((99_799.002, 99_800.998))
    assert coinbase.price == 99_800.0 and coinbase.bid == 99_799.0
    assert snap.avg_price == pytest.approx(99_800.0)
    assert snap.exchange_divergence == pytest.approx(0.0)
    assert state.take_alerts() == []  # 0.2 % off: within the 0.5 % threshold


def test_a_stale_usd_price_of_a_stablecoin_no_longer_converts() -> None:
    """USDT-USD at 0.998 last seen at T0; 11 s later (stale after 10 s) the Binance leg is
    100,000 again while its fresh book still says 100,000 USDT."""
    state = state_with(
        book("coinbase", "USDTUSD", "USDTUSD", "USD", 0.9979, 0.9981),
        book("binance", "BTCUSDT", "BTCUSDT", "USDT", 99_999.0, 100_001.0),
        book("coinbase", "BTCUSD", "BTCUSDT", "USD", 99_799.0, 99_801.0),
    )
    state.set_followed(["BTCUSDT"])
    assert state.poll(T0)[0].venues["binance"].price == pytest.approx(99_800.0)
    state.update(book("binance", "BTCUSDT", "BTCUSDT", "USDT", 99_999.0, 100_001.0, 11_000))
    state.update(book("coinbase", "BTCUSD", "BTCUSDT", "USD", 99_799.0, 99_801.0, 11_000))
    assert state.poll(T0 + 11_000)[0].venues["binance"].price == 100_000.0


def test_without_a_published_usd_price_a_stablecoin_counts_as_one() -> None:
    state = state_with(
        book("binance", "BTCUSDT", "BTCUSDT", "USDT", 99_999.0, 100_001.0),
        book("coinbase", "BTCUSD", "BTCUSDT", "USD", 99_799.0, 99_801.0),
    )
    [snap] = state.poll(T0)
    assert (snap.venues["binance"].price, snap.avg_price) == (100_000.0, 99_900.0)


def trade(exchange: str, symbol: str, group: str, quote: str, price: float, size: float) -> Trade:
    return Trade(**head(exchange, symbol, group, quote), price=price, size=size, side="buy",
                 trade_id="t1")  # type: ignore[arg-type]  # fmt: skip


def test_ethbtc_volume_in_usd_through_btcusdt_else_null_and_counted() -> None:
    """2 ETH at 0.05 BTC = 0.1 BTC; BTCUSDT's median 60,000 -> 6,000 USD."""
    ethbtc = trade("binance", "ETHBTC", "ETHBTC", "BTC", 0.05, 2.0)
    priced = state_with(
        ethbtc,
        book("binance", "BTCUSDT", "BTCUSDT", "USDT", 59_999.0, 60_001.0),
        book("coinbase", "BTCUSD", "BTCUSDT", "USD", 59_999.0, 60_001.0),
        min_exchanges=1,
    )
    snaps = {s.symbol: s for s in priced.poll(T0)}
    assert snaps["ETHBTC"].venues["binance"].volume == 2.0
    assert snaps["ETHBTC"].venues["binance"].volume_usd == pytest.approx(6_000.0)
    assert priced.take_unpriced() == {}

    alone = state_with(ethbtc, min_exchanges=1)
    [snap] = alone.poll(T0)
    assert snap.venues["binance"].volume_usd is None
    assert alone.take_unpriced() == {("ETHBTC", "binance", "volume"): 1}
    assert alone.take_unpriced() == {}  # drained


def oi(exchange: str, symbol: str, quote: str, contracts: float) -> OpenInterest:
    return OpenInterest(**head(exchange, symbol, "BTCUSDT", quote), open_interest=contracts,
                        open_interest_usd=None)  # type: ignore[arg-type]  # fmt: skip


def test_open_interest_from_contract_sizes_linear_and_inverse() -> None:
    """Linear: 5,000 contracts x 0.001 BTC x mark 60,100 = 300,500 USD (Bybit's price 60,000
    is not the mark). Linear size 1 without mark: 10 x 1 x 60,000. Inverse of 100 USD a
    contract: 300 x 100 = 30,000 USD, whatever the price."""
    mark = Funding(**head("bybit", "BTCUSDT", "BTCUSDT", "USDT"), funding_rate=0.0001,
                   funding_interval_h=8.0, mark_price=60_100.0)  # type: ignore[arg-type]  # fmt: skip
    state = state_with(
        book("bybit", "BTCUSDT", "BTCUSDT", "USDT", 59_999.0, 60_001.0),
        book("binance_futures", "BTCUSDT", "BTCUSDT", "USDT", 59_999.0, 60_001.0),
        book("okx", "BTCUSD.INV", "BTCUSDT", "USD", 59_999.0, 60_001.0),
        mark,
        oi("bybit", "BTCUSDT", "USDT", 5_000.0),
        oi("binance_futures", "BTCUSDT", "USDT", 10.0),
        oi("okx", "BTCUSD.INV", "USD", 300.0),
    )
    state.set_contracts({("bybit", "BTCUSDT"): Contract(0.001, False),
                         ("okx", "BTCUSD.INV"): Contract(100.0, True)})  # fmt: skip
    [snap] = state.poll(T0)
    assert snap.venues["bybit"].open_interest_usd == pytest.approx(300_500.0)
    assert snap.venues["binance_futures"].open_interest_usd == pytest.approx(600_000.0)
    assert snap.venues["okx"].open_interest_usd == pytest.approx(30_000.0)


def test_open_interest_of_a_usdt_contract_in_usd_at_usdts_own_price() -> None:
    """10 BTC x 100,000 USDT x 0.998 USD/USDT = 998,000 USD; inverse of 1 USD: unchanged."""
    state = state_with(
        book("coinbase", "USDTUSD", "USDTUSD", "USD", 0.9979, 0.9981),
        book("binance_futures", "BTCUSDT", "BTCUSDT", "USDT", 99_999.0, 100_001.0),
        book("bybit", "BTCUSD.INV", "BTCUSDT", "USD", 99_799.0, 99_801.0),
        oi("binance_futures", "BTCUSDT", "USDT", 10.0),
        oi("bybit", "BTCUSD.INV", "USD", 2_000_000.0),
    )
    snaps = {s.symbol: s for s in state.poll(T0)}
    assert snaps["BTCUSDT"].venues["binance_futures"].open_interest_usd == pytest.approx(998_000.0)
    assert snaps["BTCUSDT"].venues["bybit"].open_interest_usd == pytest.approx(2_000_000.0)


def depeg_states(monitor: DepegMonitor, prices: list[float]) -> list[list[tuple[str, str]]]:
    rates = UsdRates()
    out = []
    for step, price in enumerate(prices):
        rates.observe("USDTUSD", price, "coinbase")
        out.append([(a.severity, a.data["state"]) for a in monitor.check(rates, T0 + step)])
    return out


def test_depeg_alert_once_per_transition_with_recovery_inside_half_the_threshold() -> None:
    """Threshold 0.5 %: 0.99 (-1 %) alerts; 0.992 and 0.997 (-0.3 %, not yet within 0.25 %)
    stay depegged silently; 0.9985 (-0.15 %) re-pegs; 0.997 is then within 0.5 %: nothing."""
    monitor = DepegMonitor(0.005)
    assert depeg_states(monitor, [0.99, 0.992, 0.997, 0.9985, 0.997, 1.006]) == [
        [("warning", "depegged")], [], [], [("info", "repegged")], [], [("warning", "depegged")]
    ]  # fmt: skip


def test_depeg_alert_through_the_aggregator_and_its_wire_form() -> None:
    state = state_with(
        book("coinbase", "USDTUSD", "USDTUSD", "USD", 0.9899, 0.9901),
        book("binance", "BTCUSDT", "BTCUSDT", "USDT", 99_999.0, 100_001.0),
        book("coinbase", "BTCUSD", "BTCUSDT", "USD", 98_999.0, 99_001.0),
    )
    state.poll(T0)
    [alert] = state.take_alerts()
    assert (alert.type, alert.severity, alert.symbol, alert.venue) == (
        "DEPEG", "warning", "USDTUSD", "coinbase",
    )  # fmt: skip
    assert alert.data == {"asset": "USDT", "usd_price": 0.99, "deviation_pct": pytest.approx(-1.0),
                          "threshold_pct": 0.5, "state": "depegged"}  # fmt: skip
    assert alert.reason == "USDT at 0.99 USD (-1.000 %, threshold 0.5 %)"
    state.poll(T0 + 5_000)  # still depegged: nothing new
    assert state.take_alerts() == []
    wire = MARKET_ALERTS.encode(alert)
    assert wire["timestamp"] == "2023-11-14T22:13:20Z" and wire["source"] == "aggregator"
    assert MARKET_ALERTS.decode(wire) == MarketAlert(
        ts_ms=T0, source="aggregator", type="DEPEG", severity="warning", symbol="USDTUSD",
        venue="coinbase", reason=alert.reason, data=alert.data,
    )  # fmt: skip
