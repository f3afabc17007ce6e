"""All configuration, read once from the environment (and `.env`) and validated at start.

Every field is an environment variable of the same name in upper case and is listed in
`.env.example` (a test checks both directions). Lists are comma-separated. Bad values fail at
start with a message that names the variable (`load_settings`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from microservices.common.errors import FatalError
from microservices.common.streams import DEFAULT_PREFIX, Streams, build_streams
from microservices.common.symbols import CANONICAL_SYMBOLS, SYMBOL_TABLE

PosInt = Annotated[int, Field(gt=0)]
PosFloat = Annotated[float, Field(gt=0)]
CsvList = Annotated[list[str], NoDecode]

DEFAULT_VENUES = ["binance", "binance_futures", "bybit", "coinbase"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    # --- general
    redis_url: str | None = None  # unset: `run` starts an embedded Redis-compatible server
    stream_prefix: str = DEFAULT_PREFIX
    symbols: CsvList = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    venues: CsvList = DEFAULT_VENUES
    cross_exchange_enabled: bool = True
    api_host: str = "127.0.0.1"
    api_port: int = Field(8001, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "text"] = "auto"

    # --- streams (MAXLEN ~ of each XADD)
    maxlen_raw: PosInt = 10_000
    maxlen_normalized: PosInt = 10_000
    maxlen_features: PosInt = 10_000
    maxlen_status: PosInt = 1_000
    maxlen_alerts: PosInt = 500

    # --- Redis bus
    redis_socket_timeout_s: PosFloat = 5.0
    producer_batch_size: PosInt = 500
    producer_flush_interval_ms: PosInt = 5
    producer_buffer_size: PosInt = 100_000
    consumer_batch_size: PosInt = 500
    consumer_block_ms: PosInt = 1_000
    consumer_claim_idle_ms: PosInt = 30_000
    consumer_max_deliveries: PosInt = 5

    # --- exchange endpoints (point these at the simulator for offline runs)
    binance_ws_url: str = "wss://stream.binance.com:9443"
    binance_rest_url: str = "https://api.binance.com"
    binance_futures_ws_url: str = "wss://fstream.binance.com"
    binance_futures_rest_url: str = "https://fapi.binance.com"
    bybit_ws_url: str = "wss://stream.bybit.com"
    bybit_rest_url: str = "https://api.bybit.com"
    coinbase_ws_url: str = "wss://ws-feed.exchange.coinbase.com"
    coinbase_rest_url: str = "https://api.exchange.coinbase.com"

    # --- WebSocket bridge
    ws_reconnect_base_s: PosFloat = 5.0
    ws_reconnect_cap_s: PosFloat = 60.0
    ws_healthy_reset_s: PosFloat = 60.0
    ws_silence_timeout_s: PosFloat = 30.0
    ws_open_timeout_s: PosFloat = 10.0
    ws_rotate_after_s: PosFloat = 23.5 * 3600

    # --- REST collector
    rest_enabled: bool = True
    rest_timeout_s: PosFloat = 10.0
    rest_poll_interval_s: PosFloat = 60.0
    rest_circuit_failures: PosInt = 5
    rest_circuit_reset_s: PosFloat = 30.0
    rest_history_dir: str = "data/history"  # CSV per venue/kind/symbol; empty disables sync
    rest_history_lookback_h: PosFloat = 6.0

    # --- aggregator (SPEC section 4)
    aggregator_min_exchanges: PosInt = 2
    aggregator_stale_after_s: PosFloat = 10.0
    aggregator_outlier_pct: PosFloat = 5.0
    aggregator_min_emit_interval_ms: PosInt = 250
    aggregator_max_emit_interval_ms: PosInt = 1_000
    aggregator_vol_short_window_s: PosFloat = 300.0
    aggregator_vol_long_window_s: PosFloat = 3_600.0
    aggregator_vol_cap: PosFloat = 5.0
    aggregator_volume_window_s: PosFloat = 60.0

    # --- feature adapter (SPEC section 5)
    features_momentum_window_s: PosFloat = 60.0
    features_rolling_window: PosInt = 20
    features_lead_lag_window_s: PosFloat = 300.0
    features_lead_lag_max_lag_ms: PosInt = 2_000

    # --- ExitBrain v3 (SPEC section 6)
    exitbrain_stale_after_s: PosFloat = 60.0
    exitbrain_atr_coef: float = 0.6
    exitbrain_tp_coef: float = 0.8
    exitbrain_sl_coef: float = 0.4
    exitbrain_trailing_max_vol: PosFloat = 3.0
    exitbrain_vol_cap: PosFloat = 5.0
    exitbrain_max_failures: PosInt = 3
    exitbrain_interval_s: PosFloat = 5.0
    exitbrain_default_use_trailing: bool = True
    exitbrain_min_tp_pct: PosFloat = 0.3
    exitbrain_min_sl_pct: PosFloat = 0.15
    exitbrain_divergence_cap: PosFloat = 1.0
    exitbrain_divergence_alert: PosFloat = 0.02
    exitbrain_min_exchanges: PosInt = 2

    # --- health and simulator
    health_venue_stale_s: PosFloat = 30.0
    simulator_host: str = "127.0.0.1"
    simulator_port: int = Field(8765, ge=0, le=65535)

    @field_validator("symbols", "venues", mode="before")
    @classmethod
    def _split_csv(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("symbols")
    @classmethod
    def _known_symbols(cls, value: list[str]) -> list[str]:
        upper = [s.upper() for s in value]
        unknown = sorted(set(upper) - CANONICAL_SYMBOLS)
        if unknown:
            raise ValueError(f"unknown symbol(s) {unknown}; known: BTCUSDT, ETHUSDT, ...")
        if not upper:
            raise ValueError("at least one symbol is required")
        return list(dict.fromkeys(upper))

    @field_validator("venues")
    @classmethod
    def _known_venues(cls, value: list[str]) -> list[str]:
        lower = [v.lower() for v in value]
        unknown = sorted(set(lower) - set(SYMBOL_TABLE))
        if unknown:
            raise ValueError(f"unknown venue(s) {unknown}; known: {sorted(SYMBOL_TABLE)}")
        return list(dict.fromkeys(lower))

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must start with redis://, rediss:// or unix://")
        if parts.scheme != "unix" and not parts.hostname:
            raise ValueError("has no host (expected redis://host:port/db)")
        try:
            _ = parts.port
        except ValueError as exc:
            raise ValueError(f"has a bad port: {exc}") from None
        return value.strip()

    @field_validator("stream_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not value or any(ch.isspace() for ch in value):
            raise ValueError("must be non-empty and contain no whitespace")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        if self.consumer_block_ms >= self.redis_socket_timeout_s * 1000:
            raise ValueError(
                "CONSUMER_BLOCK_MS must stay below REDIS_SOCKET_TIMEOUT_S*1000 "
                "(a longer BLOCK makes redis-py time out and retry)"
            )
        if self.aggregator_min_emit_interval_ms > self.aggregator_max_emit_interval_ms:
            raise ValueError("AGGREGATOR_MIN_EMIT_INTERVAL_MS exceeds the max interval")
        if self.aggregator_vol_short_window_s >= self.aggregator_vol_long_window_s:
            raise ValueError("AGGREGATOR_VOL_SHORT_WINDOW_S must be below the long window")
        if self.ws_reconnect_base_s > self.ws_reconnect_cap_s:
            raise ValueError("WS_RECONNECT_BASE_S exceeds WS_RECONNECT_CAP_S")
        return self

    def streams(self) -> Streams:
        return build_streams(
            self.stream_prefix,
            {
                "exchange.raw": self.maxlen_raw,
                "exchange.normalized": self.maxlen_normalized,
                "exchange.features": self.maxlen_features,
                "exitbrain.status": self.maxlen_status,
                "exitbrain.alerts": self.maxlen_alerts,
            },
        )

    def redacted_redis_url(self) -> str | None:
        """REDIS_URL with any password replaced by '***' (for logs and /health)."""
        return redact_url(self.redis_url)


def redact_url(url: str | None) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def load_settings(env_file: str | None = ".env", **overrides: Any) -> Settings:
    """Build settings once at start; bad config raises FatalError naming the variable."""
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ".".join(str(part) for part in err["loc"]).upper() or "settings"
            lines.append(f"invalid setting {name}: {err['msg']}")
        raise FatalError("; ".join(lines)) from None
