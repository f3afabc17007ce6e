"""`dvol` in exchange.normalized: the latest DVOL of the group's base currency, null when
there is none, when it is over a minute old or for a group not quoted in USD; DVOL and options
summaries never create a symbol nor make one fresh; the field survives the stream schema."""

from __future__ import annotations

from microservices.ai_engine.cross_exchange_aggregator import AggregatorParams, CrossExchangeState
from microservices.common.derived_schemas import NORMALIZED
from microservices.common.records import OptionsSummary, VolatilityIndex
from microservices.view import render
from tests.unit.aggregator.builders import T0, quote


def dvol(currency: str, value: float, at: int) -> VolatilityIndex:
    symbol = f"{currency}-DVOL"
    return VolatilityIndex("deribit", "perp", symbol, f"{currency.lower()}_usd", symbol, "USD",
                           T0 + at, T0 + at, currency, value)  # fmt: skip


def summary(at: int) -> OptionsSummary:
    return OptionsSummary("deribit", "perp", "BTC-OPTIONS", "BTC", "BTC-OPTIONS", "USD", T0 + at,
                          T0 + at, "BTC", 30, 200.0, 8e6, 30.0, 21_000.0, 40_000.0, 0.5, 2.0)  # fmt: skip


def state() -> CrossExchangeState:
    s = CrossExchangeState(AggregatorParams())
    fresh(s, 0)
    return s


def fresh(s: CrossExchangeState, at: int, symbol: str = "BTCUSDT") -> None:
    for venue, mid in (("binance", 100.0), ("bybit", 101.0)):
        s.update(quote(venue, mid, at, symbol=symbol))


def test_latest_dvol_of_the_base_currency() -> None:
    s = state()
    assert s.snapshot("BTCUSDT", T0 + 10).dvol is None  # type: ignore[union-attr]
    s.update(dvol("BTC", 55.5, 0))
    s.update(dvol("ETH", 70.0, 0))
    s.update(dvol("BTC", 56.25, 1_000))
    s.update(dvol("BTC", 40.0, 500))  # late: ignored
    snap = s.snapshot("BTCUSDT", T0 + 1_500)
    assert snap is not None and snap.dvol == 56.25
    assert NORMALIZED.decode(NORMALIZED.encode(snap)).dvol == 56.25
    fresh(s, 61_000)
    stale = s.snapshot("BTCUSDT", T0 + 61_001)  # 60,001 ms after the newest DVOL arrived
    assert stale is not None and stale.dvol is None
    assert NORMALIZED.encode(stale)["dvol"] == ""


def test_dvol_and_options_never_touch_venue_state() -> None:
    """Neither creates a symbol nor refreshes a venue: the venues' ages stay those of their
    quotes; a group quoted in BTC gets no (USD) DVOL."""
    s = state()
    s.update(dvol("BTC", 55.5, 30_000))
    s.update(summary(30_000))
    assert s.symbols() == ["BTCUSDT"]
    assert s.venue_status(T0 + 30_000) == {"BTCUSDT": {"binance": 30_000, "bybit": 30_000}}
    fresh(s, 30_000, "ETHBTC")
    snap = s.snapshot("ETHBTC", T0 + 30_000)
    assert snap is not None and snap.dvol is None


def test_terminal_view_shows_dvol() -> None:
    s = state()
    s.update(dvol("BTC", 55.5, 0))
    snap = s.snapshot("BTCUSDT", T0 + 10)
    assert snap is not None
    screen = render(["BTCUSDT"], {"BTCUSDT": snap}, {}, {})
    assert "vol_factor 1.00  DVOL 55.50 %" in screen
    snap.dvol = None
    assert "DVOL" not in render(["BTCUSDT"], {"BTCUSDT": snap}, {}, {})
