"""The simulator's clock skew (`--clock-skew-ms VENUE=MS`, fault field `clock_skew_ms`): per
venue, independent of --fault-venues, validated."""

from __future__ import annotations

import argparse

import pytest

from microservices.exchange_simulator.config import FaultConfig
from microservices.exchange_simulator.faults import FaultState
from tests.unit.simulator.test_config import parse


def test_skew_per_venue_leaves_the_others_exact() -> None:
    config = parse("--clock-skew-ms", "bybit=1500", "--clock-skew-ms", "coinbase=-250.5")
    assert config.faults_for("bybit") == FaultConfig(clock_skew_ms=1500.0)
    assert config.faults_for("coinbase").clock_skew_ms == -250.5
    assert config.faults_for("binance").clock_skew_ms == 0.0


def test_skew_adds_to_the_faults_of_fault_venues_without_spreading_them() -> None:
    config = parse(
        "--drop-every", "5", "--fault-venues", "binance,bybit", "--clock-skew-ms", "bybit=900",
        "--clock-skew-ms", "coinbase=40",
    )  # fmt: skip
    assert config.faults_for("bybit") == FaultConfig(drop_every=5, clock_skew_ms=900.0)
    assert config.faults_for("binance") == FaultConfig(drop_every=5)
    assert config.faults_for("coinbase") == FaultConfig(clock_skew_ms=40.0)


def test_skew_changes_at_runtime_like_any_fault() -> None:
    state = FaultState(FaultConfig(), {}, ("binance", "bybit"))
    state.update("bybit", {"clock_skew_ms": 1500})
    assert state.for_venue("bybit").clock_skew_ms == 1500
    assert state.snapshot()["venues"]["binance"]["clock_skew_ms"] == 0.0


@pytest.mark.parametrize("value", [86_400_001.0, -86_400_001.0, float("nan")])
def test_skew_beyond_a_day_is_refused(value: float) -> None:
    with pytest.raises(ValueError, match="clock_skew_ms"):
        FaultConfig(clock_skew_ms=value)


def test_skew_flag_wants_venue_equals_ms() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="VENUE=NUMBER"):
        parse("--clock-skew-ms", "1500")
    with pytest.raises(ValueError, match="venues must be"):
        parse("--clock-skew-ms", "kraken=5")
