"""All configuration, read once from the environment (and `.env`) and validated at start.

Every setting is an environment variable of the same name in upper case and is listed in
`.env.example` (a test checks both directions): the fields of `SettingsFields`, and in place
of `endpoints` the endpoint settings of the registered exchange packages (`variables()`).
Lists are comma-separated. Bad values fail at start with a message that names the variable
(`load_settings`). Venue lists come from the exchange registry.
"""

from __future__ import annotations

from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from microservices.common import endpoint_settings
from microservices.common.errors import FatalError
from microservices.common.settings_fields import SettingsFields
from microservices.common.sharding import parse_shards
from microservices.common.streams import Streams, build_streams
from microservices.common.symbol_selection import (
    SymbolSelection,
    SymbolSelectionError,
    parse_symbols,
)
from microservices.data_collector import exchanges
from microservices.data_collector.exchanges import EndpointKind


class Settings(SettingsFields):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The usual sources, plus the exchange packages' endpoint settings read from the
        same environment and `.env` (below keyword arguments, like every setting)."""
        assert isinstance(env_settings, EnvSettingsSource)
        assert isinstance(dotenv_settings, DotEnvSettingsSource)
        init_kwargs = getattr(init_settings, "init_kwargs", {})
        endpoints = endpoint_settings.EndpointSource(
            settings_cls, init_kwargs, env_settings, dotenv_settings
        )
        return init_settings, endpoints, env_settings, dotenv_settings, file_secret_settings

    @model_validator(mode="before")
    @classmethod
    def _collect_endpoints(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return endpoint_settings.collect_endpoints(data)
        return data

    @field_validator("endpoints")
    @classmethod
    def _check_endpoints(cls, value: dict[str, str]) -> dict[str, str]:
        return endpoint_settings.check_endpoints(value)

    @field_validator("symbols", "venues", "usd_equivalents", mode="before")
    @classmethod
    def _split_csv(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("ws_silence_timeout_overrides", "taker_fees_bps", mode="before")
    @classmethod
    def _split_venue_seconds(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        pairs = [item.strip() for item in value.split(",") if item.strip()]
        out: dict[str, str] = {}
        for pair in pairs:
            venue, sep, seconds = pair.partition(":")
            if not sep:
                raise ValueError(f"expected venue:number, got {pair!r}")
            out[venue.strip().lower()] = seconds.strip()
        return out

    @field_validator("ws_silence_timeout_overrides")
    @classmethod
    def _known_venue_seconds(cls, value: dict[str, float]) -> dict[str, float]:
        known = exchanges.venue_ids()
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(f"unknown venue(s) {unknown}; known: {sorted(known)}")
        if any(not seconds > 0 for seconds in value.values()):
            raise ValueError("every timeout must be > 0 seconds")
        return value

    @field_validator("taker_fees_bps")
    @classmethod
    def _known_venue_fees(cls, value: dict[str, float]) -> dict[str, float]:
        known = exchanges.venue_ids()
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(f"unknown venue(s) {unknown}; known: {sorted(known)}")
        if any(not 0.0 <= bps < 1_000.0 for bps in value.values()):
            raise ValueError("a taker fee is 0 to 1000 bps")
        return value

    @field_validator("symbols")
    @classmethod
    def _parse_symbols(cls, value: list[str]) -> list[str]:
        """Explicit names upper case (ETH/USDT -> ETHUSDT), selectors as `top:10`; whether a
        name exists is known once the listings are loaded (the collector checks it)."""
        try:
            selection = parse_symbols(",".join(value))  # commas or spaces separate
        except SymbolSelectionError as exc:
            raise ValueError(str(exc)) from None
        return [*selection.explicit, *(str(s) for s in selection.selectors)]

    @field_validator("usd_equivalents")
    @classmethod
    def _usd_assets(cls, value: list[str]) -> list[str]:
        upper = list(dict.fromkeys(v.upper() for v in value))
        if "USDT" not in upper or not all(v.isalnum() for v in upper):
            raise ValueError("must list asset codes and include USDT (groups are keyed BASEUSDT)")
        return upper

    @field_validator("venues")
    @classmethod
    def _known_venues(cls, value: list[str]) -> list[str]:
        lower = [v.lower() for v in value]
        known = exchanges.venue_ids()
        unknown = sorted(set(lower) - set(known))
        if unknown:
            raise ValueError(f"unknown venue(s) {unknown}; known: {sorted(known)}")
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
        parse_shards(self.owned_shards, self.stream_shards)  # a shard beyond STREAM_SHARDS
        if self.shard_leases and self.redis_cluster and self.stream_shards == 1:
            raise ValueError(
                "SHARD_LEASES on a Redis Cluster needs STREAM_SHARDS >= 2: a lease fences the "
                "writes to its shard's keys, which share its slot only when they are sharded"
            )
        if self.ws_reconnect_base_s > self.ws_reconnect_cap_s:
            raise ValueError("WS_RECONNECT_BASE_S exceeds WS_RECONNECT_CAP_S")
        return self

    def symbol_selection(self) -> SymbolSelection:
        """SYMBOLS parsed into explicit names and selectors (top:N, perp:, spot:)."""
        return parse_symbols(self.symbols)

    def explicit_symbols(self) -> list[str]:
        """The explicit names of SYMBOLS (what the engine follows before the collector has
        published the resolved set)."""
        return list(self.symbol_selection().explicit)

    def endpoint(self, venue: str, kind: EndpointKind) -> str:
        """`venue`'s WebSocket or REST base URL (its package's setting, e.g. BYBIT_WS_URL for
        bybit_spot). KeyError for a venue registered after these settings were loaded."""
        return self.endpoints[exchanges.endpoint_setting(venue, kind).name]

    def silence_timeout_s(self, venue: str) -> float:
        """The venue's WebSocket silence timeout: its override, else WS_SILENCE_TIMEOUT_S."""
        return self.ws_silence_timeout_overrides.get(venue, self.ws_silence_timeout_s)

    def streams(self) -> Streams:
        return build_streams(
            self.stream_prefix,
            {
                "exchange.raw": self.maxlen_raw,
                "exchange.normalized": self.maxlen_normalized,
                "exchange.features": self.maxlen_features,
                "exitbrain.status": self.maxlen_status,
                "exitbrain.alerts": self.maxlen_alerts,
                "exchange.listings": self.maxlen_listings,
                "alerts": self.maxlen_market_alerts,
                "exchange.orderbook": self.maxlen_orderbook,
                "exchange.large_trades": self.maxlen_large_trades,
                "exchange.anomalies": self.maxlen_anomalies,
                "exchange.signals": self.maxlen_signals,
            },
            self.stream_shards,
            self.usd_equivalents,
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


class Variable(NamedTuple):
    """One environment variable of the settings (for `.env.example`, README and compose)."""

    field: str  # the Settings field it sets ("endpoints" for the exchange URLs)
    default: Any
    description: str


def variables() -> dict[str, Variable]:
    """Lower-case variable name -> Variable, in declaration order; the endpoint settings of
    the registered exchange packages stand in place of the `endpoints` field."""
    out: dict[str, Variable] = {}
    for name, info in Settings.model_fields.items():
        if name == endpoint_settings.FIELD:
            for setting in exchanges.endpoint_settings():
                out[setting.name] = Variable(name, setting.default, setting.description)
        else:
            default = info.get_default(call_default_factory=True)
            out[name] = Variable(name, default, info.description or "")
    return out


def load_settings(env_file: str | None = ".env", **overrides: Any) -> Settings:
    """Build settings once at start; bad config raises FatalError naming the variable."""
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = err["loc"][1:] if err["loc"][:1] == (endpoint_settings.FIELD,) else err["loc"]
            name = ".".join(str(part) for part in loc).upper() or "settings"
            lines.append(f"invalid setting {name}: {err['msg']}")
        raise FatalError("; ".join(lines)) from None
