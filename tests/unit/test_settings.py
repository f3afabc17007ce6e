"""Settings: defaults, parsing, fail-at-start messages, and .env.example kept in sync."""

from __future__ import annotations

from pathlib import Path

import pytest

from microservices.common.errors import FatalError
from microservices.common.settings import load_settings, redact_url, variables
from microservices.data_collector import exchanges

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def example_vars() -> dict[str, str]:
    out = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value
    return out


def test_env_example_lists_every_setting_and_nothing_else() -> None:
    assert set(example_vars()) == {name.upper() for name in variables()}


def test_env_example_values_are_the_defaults(tmp_path: Path) -> None:
    from_file = load_settings(env_file=str(ENV_EXAMPLE))
    assert from_file == load_settings(env_file=None)


def test_defaults() -> None:
    s = load_settings(env_file=None)
    assert s.api_port == 8001
    assert s.stream_prefix == "quantum:stream:"
    assert s.symbols == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert s.venues == exchanges.default_venues()
    assert s.cross_exchange_enabled is True
    assert s.redis_url is None
    assert s.streams().raw.name == "quantum:stream:exchange.raw"


def test_lists_come_from_comma_separated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYMBOLS", " btcusdt, ETHUSDT ,btcusdt")
    monkeypatch.setenv("VENUES", "bybit,coinbase")
    monkeypatch.setenv("MAXLEN_RAW", "2500")
    s = load_settings(env_file=None)
    assert s.symbols == ["BTCUSDT", "ETHUSDT"]
    assert s.venues == ["bybit", "coinbase"]
    monkeypatch.setenv("SYMBOLS", "eth/usdt, top:10,BTC-USD spot:eur")
    monkeypatch.setenv("USD_EQUIVALENTS", "usd,usdt")
    s = load_settings(env_file=None)
    assert s.symbols == ["ETHUSDT", "BTC-USD", "top:10", "spot:EUR"]  # names first, selectors
    assert s.explicit_symbols() == ["ETHUSDT", "BTC-USD"]
    assert [str(sel) for sel in s.symbol_selection().selectors] == ["top:10", "spot:EUR"]
    assert s.usd_equivalents == ["USD", "USDT"]
    assert s.streams().raw.maxlen == 2500


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VENUES": "binance,krakenx"}, "invalid setting VENUES: .*unknown venue.*krakenx"),
        ({"SYMBOLS": "BTCUSDT,top:0"}, "invalid setting SYMBOLS: .*bad selector 'top:0'"),
        ({"SYMBOLS": "best:3"}, "invalid setting SYMBOLS: .*top:N, perp:QUOTE or spot:QUOTE"),
        ({"SYMBOLS": " , "}, "invalid setting SYMBOLS: .*selects nothing"),
        ({"USD_EQUIVALENTS": "USD,USDC"}, "invalid setting USD_EQUIVALENTS: .*include USDT"),
        ({"REDIS_URL": "http://localhost:6379"}, "invalid setting REDIS_URL: .*redis://"),
        ({"REDIS_URL": "redis://localhost:notaport"}, "invalid setting REDIS_URL: .*port"),
        ({"REDIS_URL": "redis://"}, "invalid setting REDIS_URL: .*no host"),
        ({"MAXLEN_RAW": "-5"}, "invalid setting MAXLEN_RAW: .*greater than 0"),
        ({"API_PORT": "70000"}, "invalid setting API_PORT"),
        ({"CROSS_EXCHANGE_ENABLED": "perhaps"}, "invalid setting CROSS_EXCHANGE_ENABLED"),
        ({"CONSUMER_BLOCK_MS": "9000"}, "CONSUMER_BLOCK_MS must stay below"),
        ({"STREAM_PREFIX": "a b"}, "invalid setting STREAM_PREFIX"),
        (
            {"WS_SILENCE_TIMEOUT_OVERRIDES": "bybit:30,krakenx:5"},
            "invalid setting WS_SILENCE_TIMEOUT_OVERRIDES: .*unknown venue.*krakenx",
        ),
        ({"WS_SILENCE_TIMEOUT_OVERRIDES": "bybit=30"}, "WS_SILENCE_TIMEOUT_OVERRIDES: .*venue:num"),
        ({"TAKER_FEES_BPS": "binance:10,krakenx:5"}, "TAKER_FEES_BPS: .*unknown venue.*krakenx"),
        ({"TAKER_FEES_BPS": "binance:-1"}, "TAKER_FEES_BPS: .*0 to 1000 bps"),
        ({"ORDERBOOK_LEVELS": "0"}, "invalid setting ORDERBOOK_LEVELS"),
        ({"WS_SILENCE_TIMEOUT_OVERRIDES": "bybit:0"}, "WS_SILENCE_TIMEOUT_OVERRIDES: .*> 0"),
        ({"WS_SILENCE_TIMEOUT_OVERRIDES": "bybit:soon"}, "WS_SILENCE_TIMEOUT_OVERRIDES"),
        (
            {"BINANCE_WS_URL": "https://stream.binance.com"},
            "invalid setting BINANCE_WS_URL: .*ws://",
        ),
        ({"BYBIT_REST_URL": "api.bybit.com"}, "invalid setting BYBIT_REST_URL: .*http://"),
        ({"COINBASE_WS_URL": "wss://"}, "invalid setting COINBASE_WS_URL: .*no host"),
        ({"BINANCE_FUTURES_REST_URL": "http://h:port"}, "BINANCE_FUTURES_REST_URL: .*bad port"),
    ],
)
def test_bad_config_fails_at_start_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(FatalError, match=message):
        load_settings(env_file=None)


def test_silence_timeout_per_venue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WS_SILENCE_TIMEOUT_S", "30")
    monkeypatch.setenv("WS_SILENCE_TIMEOUT_OVERRIDES", " Bybit:90 , coinbase:12.5 ")
    s = load_settings(env_file=None)
    assert s.ws_silence_timeout_overrides == {"bybit": 90.0, "coinbase": 12.5}
    assert [s.silence_timeout_s(v) for v in ("bybit", "coinbase", "binance")] == [90, 12.5, 30]
    assert (
        load_settings(env_file=None, ws_silence_timeout_overrides="").silence_timeout_s("bybit")
        == 30
    )


def test_redis_password_is_redacted() -> None:
    s = load_settings(env_file=None, redis_url="redis://:s3cret@redis:6379/0")
    assert s.redacted_redis_url() == "redis://:***@redis:6379/0"
    assert "s3cret" not in s.redacted_redis_url()
    assert redact_url("redis://localhost:6379/0") == "redis://localhost:6379/0"


def test_endpoint_settings_come_from_the_exchange_packages(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Env names, defaults and priority (keyword > environment > .env > default) as before the
    URLs moved into the packages; bybit_spot reads Bybit's settings."""
    defaults = load_settings(env_file=None)
    assert defaults.endpoint("binance", "ws") == "wss://stream.binance.com:9443"
    assert defaults.endpoint("binance_futures", "rest") == "https://fapi.binance.com"
    assert defaults.endpoint("bybit_spot", "ws") == defaults.endpoint("bybit", "ws")
    dotenv = tmp_path / ".env"
    dotenv.write_text("BYBIT_WS_URL=ws://from-file/bybit\nCOINBASE_REST_URL=http://file/cb\n")
    monkeypatch.setenv("COINBASE_REST_URL", "http://env/coinbase")
    s = load_settings(env_file=str(dotenv), binance_rest_url="http://kw/binance")
    assert s.endpoint("bybit_spot", "ws") == "ws://from-file/bybit"
    assert s.endpoint("coinbase", "rest") == "http://env/coinbase"
    assert s.endpoint("binance", "rest") == "http://kw/binance"
    assert s.endpoint("binance", "ws") == defaults.endpoint("binance", "ws")


def test_an_unknown_endpoint_setting_is_refused() -> None:
    with pytest.raises(FatalError, match="invalid setting KRAKEN_WS_URL: not a registered"):
        load_settings(env_file=None, endpoints={"kraken_ws_url": "wss://ws.kraken.com"})
