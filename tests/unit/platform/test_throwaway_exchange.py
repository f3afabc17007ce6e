"""A throw-away exchange package registered at run time is picked up everywhere with no other
change: the registry's views, settings (VENUES, its URL variables, validation), the variable
lists behind .env.example / README / compose, the collector's build, the simulator's config
and `normalize`. Unregistered afterwards, it is gone again. (Collecting it from the simulator
into Redis: tests/integration/test_throwaway_exchange.py.)"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from microservices.common.errors import FatalError
from microservices.common.settings import load_settings, variables
from microservices.data_collector import exchanges, normalize
from microservices.data_collector.exchanges import ExchangePackage
from microservices.data_collector.registry import build_exchanges
from microservices.exchange_simulator.config import (
    MarketConfig,
    SimulatorConfig,
    market_venues,
    url_venues,
)
from tests.unit.platform.throwaway_exchange import PACKAGE
from tests.unit.platform.throwaway_exchange.exchange import Throwaway

FRAME = {"type": "trade", "symbol": "ETH_USDT", "price": "2500.5", "size": "0.25", "buy": True,
         "id": 77, "ts": 1_700_000_000_123}  # fmt: skip


@pytest.fixture
def throwaway() -> Iterator[ExchangePackage]:
    with exchanges.registered(PACKAGE) as package:
        yield package
    assert "throwaway" not in exchanges.venue_ids()


def test_registry_views_include_it(throwaway: ExchangePackage) -> None:
    assert exchanges.venue_ids()[-1] == "throwaway"
    assert exchanges.EXCHANGES["throwaway"] is Throwaway
    assert "throwaway" in exchanges.default_venues()
    assert exchanges.venues_with("klines")[-1] == "throwaway"
    assert "throwaway" not in exchanges.venues_with("funding")
    names = [s.env for s in exchanges.endpoint_settings()]
    assert names[-2:] == ["THROWAWAY_WS_URL", "THROWAWAY_REST_URL"]
    assert exchanges.simulators()["throwaway"] == throwaway.simulator
    with pytest.raises(ValueError, match="already registered"):
        exchanges.register(PACKAGE)


def test_settings_accept_it_and_read_its_urls(
    throwaway: ExchangePackage, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert "throwaway" in load_settings(env_file=None).venues  # its spec says default=True
    dotenv = tmp_path / ".env"
    dotenv.write_text("THROWAWAY_REST_URL=http://127.0.0.1:9/throwaway\n")
    monkeypatch.setenv("THROWAWAY_WS_URL", "ws://127.0.0.1:9/throwaway")
    monkeypatch.setenv("VENUES", "throwaway,binance")
    monkeypatch.setenv("WS_SILENCE_TIMEOUT_OVERRIDES", "throwaway:7")
    settings = load_settings(env_file=str(dotenv))
    assert settings.venues == ["throwaway", "binance"]
    assert settings.endpoint("throwaway", "ws") == "ws://127.0.0.1:9/throwaway"
    assert settings.endpoint("throwaway", "rest") == "http://127.0.0.1:9/throwaway"
    assert settings.silence_timeout_s("throwaway") == 7.0
    monkeypatch.setenv("THROWAWAY_WS_URL", "http://127.0.0.1:9/throwaway")
    with pytest.raises(FatalError, match=r"invalid setting THROWAWAY_WS_URL: .*ws://"):
        load_settings(env_file=None)
    # the lists that .env.example, the README table and the compose files are checked against
    assert variables()["throwaway_rest_url"].default == "https://api.throwaway.invalid"


def test_settings_refuse_it_once_unregistered(monkeypatch: pytest.MonkeyPatch) -> None:
    with exchanges.registered(PACKAGE):
        pass
    monkeypatch.setenv("VENUES", "throwaway")
    with pytest.raises(FatalError, match=r"invalid setting VENUES: .*unknown venue.*throwaway"):
        load_settings(env_file=None)
    assert "throwaway_ws_url" not in variables()


def test_the_collector_builds_it(throwaway: ExchangePackage) -> None:
    settings = load_settings(
        env_file=None, venues="throwaway", symbols="BTCUSDT,ETHUSDT",
        throwaway_ws_url="ws://127.0.0.1:9/throwaway/",
    )  # fmt: skip
    built = build_exchanges(settings)["throwaway"]
    assert isinstance(built, Throwaway)
    assert built.rest_url == "https://api.throwaway.invalid"
    [plan] = built.ws_connections()
    assert plan.url == "ws://127.0.0.1:9/throwaway/feed"
    assert orjson.loads(plan.subscribe[0]) == {
        "op": "subscribe",
        "symbols": ["BTC_USDT", "ETH_USDT"],
    }


def test_normalize_reads_its_captures(throwaway: ExchangePackage, tmp_path: Path) -> None:
    capture = tmp_path / "throwaway.jsonl"
    lines = [{"ts": 1_700_000_000.5, "dir": "recv", "frame": orjson.dumps(FRAME).decode()},
             {"ts": 1_700_000_001.0, "dir": "recv", "frame": '{"type":"subscribed"}'}]  # fmt: skip
    capture.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    out = io.StringIO()
    normalize.normalize_file("throwaway", str(capture), out)
    [record] = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert (record["exchange"], record["symbol"], record["venue_symbol"]) == (
        "throwaway", "ETHUSDT", "ETH_USDT"
    )  # fmt: skip
    assert (float(record["price"]), float(record["size"]), record["side"]) == (2500.5, 0.25, "buy")


def test_the_simulator_config_serves_it(throwaway: ExchangePackage) -> None:
    assert url_venues()[-1] == "throwaway" and market_venues()[-1] == "throwaway"
    assert "throwaway" in SimulatorConfig().venues
    assert MarketConfig().basis_bps["throwaway"] == 0.0
    assert SimulatorConfig(port=0, venues=("throwaway",)).venues == ("throwaway",)
