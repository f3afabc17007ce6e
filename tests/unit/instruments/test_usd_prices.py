"""USD conversion through the product's own USD-class prices, and the depeg check."""

from __future__ import annotations

import math

import pytest

from microservices.common.instruments import make_instrument
from microservices.common.usd_prices import (
    asset_usd_price,
    contract_notional_usd,
    depegged_stablecoins,
    is_depegged,
    notional_usd,
    stablecoin_usd_price,
)

PRICES = {"BTCUSDT": 60_000.0, "EURUSDT": 1.08, "USDTUSD": 0.998, "BAD": math.nan, "ZEROUSDT": 0.0}


def test_asset_prices() -> None:
    assert asset_usd_price("USD", PRICES) == 1.0
    assert asset_usd_price("BTC", PRICES) == 60_000.0
    assert asset_usd_price("EUR", PRICES) == 1.08
    assert asset_usd_price("USDT", PRICES) == 0.998  # Coinbase USDT-USD, where followed
    assert asset_usd_price("USDC", PRICES) == 1.0  # no own price: counts as 1
    assert asset_usd_price("GBP", PRICES) is None  # no USD-class price: null, never a guess
    assert asset_usd_price("ZERO", PRICES) is None


def test_stablecoin_through_another_anchored_stablecoin() -> None:
    assert stablecoin_usd_price("USDC", {"USDCUSDT": 1.002, "USDTUSD": 0.998}) == pytest.approx(
        1.002 * 0.998
    )
    assert stablecoin_usd_price("USDC", {"USDTUSDC": 0.996, "USDTUSD": 0.998}) == pytest.approx(
        0.998 / 0.996
    )
    # a lone USDCUSDT does not say which side moved
    assert stablecoin_usd_price("USDC", {"USDCUSDT": 0.97}) is None
    assert stablecoin_usd_price("USDT", {"USDCUSDT": 0.97}) is None


def test_notional() -> None:
    # ETHBTC: 0.05 BTC per ETH, 2 ETH = 0.1 BTC = 6000 USD
    assert notional_usd(0.05, 2.0, "BTC", PRICES) == pytest.approx(6_000.0)
    assert notional_usd(100.0, 3.0, "USDT", PRICES) == pytest.approx(299.4)
    assert notional_usd(100.0, 3.0, "GBP", PRICES) is None
    assert notional_usd(math.inf, 3.0, "USD", PRICES) is None


def test_contract_notional() -> None:
    linear = make_instrument(venue="binance_futures", venue_symbol="1000PEPEUSDT", base="1000PEPE",
                             quote="USDT", market="perpetual")  # fmt: skip
    # quantity and price are both per 1000 PEPE: the multiplier does not enter the notional
    assert contract_notional_usd(linear, 0.012, 1_000.0, PRICES) == pytest.approx(12.0 * 0.998)
    inverse = make_instrument(venue="bybit_inverse", venue_symbol="BTCUSD", base="BTC", quote="USD",
                              market="perpetual", inverse=True, contract_size=1)  # fmt: skip
    assert contract_notional_usd(inverse, 61_000.0, 500.0, PRICES) == 500.0
    option = make_instrument(venue="bybit", venue_symbol="BTC-27MAR26-70000-P-USDT", base="BTC",
                             quote="USDT", market="option", expiry_ms=1774598400000, strike=70000,
                             put_call="P")  # fmt: skip
    assert contract_notional_usd(option, 100.0, 1.0, PRICES) is None


def test_depeg() -> None:
    assert not is_depegged(None)
    assert not is_depegged(0.998)
    assert is_depegged(0.99)
    assert is_depegged(1.006)
    assert not is_depegged(1.006, threshold=0.01)
    assert not is_depegged(math.nan)
    assert depegged_stablecoins({"USDTUSD": 0.97, "USDCUSD": 0.999}) == {"USDT": 0.97}
    assert depegged_stablecoins({"USDCUSDT": 0.97}) == {}  # unanchored: no flag
    assert depegged_stablecoins({"USDCUSD": 0.999}, threshold=0.0005) == {"USDC": 0.999}
