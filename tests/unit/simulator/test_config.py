"""Simulator configuration from the command line, and its validation."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from microservices.exchange_simulator.__main__ import cli
from microservices.exchange_simulator.cli_args import add_cli_arguments, config_from_args
from microservices.exchange_simulator.config import FaultConfig, MarketConfig, SimulatorConfig


def parse(*argv: str) -> SimulatorConfig:
    parser = argparse.ArgumentParser()
    add_cli_arguments(parser)
    return config_from_args(parser.parse_args(list(argv)))


def test_defaults_match_the_dataclasses() -> None:
    assert parse() == SimulatorConfig()


def test_funding_interval_flag() -> None:
    config = parse("--funding-interval", "binance_futures:SOLUSDT=4")
    assert config.market.funding_intervals_h == {"binance_futures:SOLUSDT": 4}


def test_flags() -> None:
    cfg = parse(
        "--port",
        "0",
        "--symbols",
        "btcusdt,ETHUSDT",
        "--venues",
        "binance,bybit",
        "--rate",
        "500",
        "--seed",
        "9",
        "--replay",
        "a.jsonl",
        "--replay",
        "b.jsonl",
        "--replay-speed",
        "10",
        "--drop-every",
        "100",
        "--silence-after",
        "5",
        "--silence-for",
        "2.5",
        "--malformed-rate",
        "0.1",
        "--latency-ms",
        "20",
        "--rate-limit-burst",
        "3",
        "--retry-after",
        "7",
        "--volatility",
        "1.2",
        "--divergence-bps",
        "25",
        "--funding",
        "bybit=0.0005",
        "--basis",
        "coinbase=-3",
    )
    assert cfg.port == 0 and cfg.venues == ("binance", "bybit")
    assert cfg.market.symbols == ("BTCUSDT", "ETHUSDT") and cfg.market.rate == 500
    assert cfg.market.seed == 9 and cfg.market.volatility == 1.2
    assert cfg.market.divergence_bps == 25
    assert cfg.market.funding_rates["bybit"] == 0.0005
    assert cfg.market.funding_rates["binance_futures"] == 0.0001
    assert cfg.market.basis_bps["coinbase"] == -3
    assert cfg.replay == (Path("a.jsonl"), Path("b.jsonl")) and cfg.replay_speed == 10
    faults = cfg.faults_for("bybit")
    assert (faults.drop_every, faults.silence_after, faults.silence_for_s) == (100, 5, 2.5)
    assert (faults.malformed_rate, faults.latency_ms) == (0.1, 20)
    assert (faults.rate_limit_burst, faults.retry_after_s) == (3, 7)


def test_fault_venues_limit_the_faults() -> None:
    cfg = parse("--drop-every", "10", "--fault-venues", "coinbase")
    assert cfg.faults_for("coinbase").drop_every == 10
    assert cfg.faults_for("binance") == FaultConfig()


@pytest.mark.parametrize(
    "argv",
    [
        ["--symbols", "BTC-USD"],  # simulated symbols are BASE+USDT names
        ["--symbols", "BTCEUR"],
        ["--venues", "kraken"],
        ["--malformed-rate", "3"],
        ["--correlation", "1.5"],
    ],
)
def test_bad_values_are_refused(argv: list[str]) -> None:
    with pytest.raises(ValueError):
        parse(*argv)


def test_cli_reports_bad_values_and_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as bad:
        cli(["--venues", "kraken"])
    assert bad.value.code == 2
    with pytest.raises(SystemExit) as ok:
        cli(["--help"])
    assert ok.value.code == 0
    assert "--drop-every" in capsys.readouterr().out


def test_market_config_validation() -> None:
    with pytest.raises(ValueError):
        MarketConfig(basis_bps={"kraken": 1.0})
