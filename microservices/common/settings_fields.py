"""Every setting's declaration: name, type, default and description, grouped by `# ---` lines.

`settings.py` adds the validation and the methods (`Settings` subclasses `SettingsFields`); the
README table and the compose files are generated from these declarations (`config_doc.py`,
`compose_env.py`). Exchange endpoint URLs are declared by the exchange packages and gathered in
`endpoints` (`endpoint_settings.py`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, NoDecode

from microservices.common.settings_anomaly import AnomalySettingsFields
from microservices.common.settings_books import BookSettingsFields
from microservices.common.settings_cluster import ClusterSettingsFields
from microservices.common.settings_cme import CmeSettingsFields
from microservices.common.settings_dashboard import DashboardSettingsFields
from microservices.common.settings_large_trades import LargeTradeSettingsFields
from microservices.common.settings_market import MarketSettingsFields
from microservices.common.settings_ml import MlSettingsFields
from microservices.common.settings_notify import NotifySettingsFields
from microservices.common.settings_options import OptionsSettingsFields
from microservices.common.settings_shards import ShardSettingsFields
from microservices.common.settings_storage import StorageSettingsFields
from microservices.common.streams import DEFAULT_PREFIX
from microservices.data_collector import exchanges

PosInt = Annotated[int, Field(gt=0)]
PosFloat = Annotated[float, Field(gt=0)]
CsvList = Annotated[list[str], NoDecode]
VenueSeconds = Annotated[dict[str, float], NoDecode]  # "bybit:60,coinbase:20"


class SettingsFields(
    AnomalySettingsFields,
    BookSettingsFields,
    CmeSettingsFields,
    OptionsSettingsFields,
    MarketSettingsFields,
    MlSettingsFields,
    NotifySettingsFields,
    DashboardSettingsFields,
    LargeTradeSettingsFields,
    StorageSettingsFields,
    ClusterSettingsFields,
    ShardSettingsFields,
    BaseSettings,
):
    """The declarations only; use `Settings` (validated) via `load_settings`. The order-book
    ones are in `settings_books`, the market layer's in `settings_market`."""

    # --- general
    redis_url: str | None = Field(
        None, description="unset: `run` starts an embedded Redis-compatible server"
    )
    stream_prefix: str = Field(DEFAULT_PREFIX, description="prefix of every stream key")
    symbols: CsvList = Field(
        ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
        description="symbols to follow: canonical names or group keys (BTCUSDT, ETHBTC, BTC-USD) "
        "and selectors top:N (24 h USD volume), perp:QUOTE, spot:QUOTE; unknown names fail "
        "at start with close matches",
    )
    usd_equivalents: CsvList = Field(
        ["USD", "USDT", "USDC"],
        description="quotes priced as USD: BTC against any of them is one group (BTCUSDT)",
    )
    venues: CsvList = Field(
        default_factory=exchanges.default_venues,
        description=f"venues to collect: {', '.join(exchanges.venue_ids())}",
    )
    cross_exchange_enabled: bool = Field(
        True, description="false: ExitBrain stays in local mode and never reads cross-exchange data"
    )
    api_host: str = Field("127.0.0.1", description="HTTP bind address (0.0.0.0 in containers)")
    api_port: int = Field(
        8001, ge=1, le=65535, description="HTTP port of /health, /metrics and /api/v1"
    )
    api_max_body_bytes: int = Field(
        16_384, ge=1_024, le=1_048_576, description="larger HTTP request bodies get 413"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="DEBUG, INFO, WARNING or ERROR"
    )
    log_format: Literal["auto", "json", "text"] = Field(
        "auto", description="auto: text on a terminal, JSON lines otherwise"
    )

    # --- streams (MAXLEN ~ of each XADD)
    maxlen_raw: PosInt = Field(10_000, description="MAXLEN ~ of exchange.raw")
    maxlen_normalized: PosInt = Field(10_000, description="MAXLEN ~ of exchange.normalized")
    maxlen_features: PosInt = Field(10_000, description="MAXLEN ~ of exchange.features")
    maxlen_status: PosInt = Field(1_000, description="MAXLEN ~ of exitbrain.status")
    maxlen_alerts: PosInt = Field(500, description="MAXLEN ~ of exitbrain.alerts")
    maxlen_listings: PosInt = Field(1_000, description="MAXLEN ~ of exchange.listings")
    maxlen_market_alerts: PosInt = Field(5_000, description="MAXLEN ~ of alerts (not ExitBrain's)")

    # --- Redis bus
    redis_socket_timeout_s: PosFloat = Field(
        5.0, description="Redis socket timeout; must exceed CONSUMER_BLOCK_MS"
    )
    producer_batch_size: PosInt = Field(500, description="XADDs per pipelined write")
    producer_flush_interval_ms: PosInt = Field(
        5, description="longest wait before a partial batch is written"
    )
    producer_buffer_size: PosInt = Field(
        100_000, description="records kept while Redis is down (oldest dropped beyond, counted)"
    )
    consumer_batch_size: PosInt = Field(500, description="entries per XREADGROUP")
    consumer_block_ms: PosInt = Field(1_000, description="XREADGROUP BLOCK")
    consumer_claim_idle_ms: PosInt = Field(
        30_000, description="pending entries idle this long are reclaimed (XAUTOCLAIM)"
    )
    consumer_max_deliveries: PosInt = Field(
        5, description="deliveries before an entry is dead-lettered"
    )

    # --- exchange endpoints (point these at the simulator for offline runs)
    endpoints: dict[str, str] = Field(
        default_factory=dict,
        description="<URL_VENUE>_WS_URL and <URL_VENUE>_REST_URL of every URL venue, declared "
        "by its exchange package (one variable each; see `endpoint_settings.py`)",
    )

    # --- WebSocket bridge
    ws_reconnect_base_s: PosFloat = Field(
        5.0, description="first reconnect delay (doubles per attempt, jittered)"
    )
    ws_reconnect_cap_s: PosFloat = Field(60.0, description="longest reconnect delay")
    ws_healthy_reset_s: PosFloat = Field(
        60.0, description="a connection up this long resets the backoff"
    )
    ws_silence_timeout_s: PosFloat = Field(
        30.0,
        description="no market data or heartbeat for this long (pings and acks do not count): "
        "reconnect, and /health reports the venue silent",
    )
    ws_silence_timeout_overrides: VenueSeconds = Field(
        {},
        description="per-venue silence timeouts, e.g. bybit:60,coinbase:20 (for venues of "
        "illiquid symbols); other venues use WS_SILENCE_TIMEOUT_S",
    )
    ws_ping_interval_s: PosFloat = Field(
        20.0,
        description="seconds between client pings: WebSocket protocol pings, and a venue's own "
        "(Bybit's JSON ping) when this is shorter than its 20 s",
    )
    ws_geo_block_retry_s: PosFloat = Field(
        600.0,
        description="a venue refusing this IP's region (HTTP 451/403 at the handshake) is "
        "retried after this long, never sooner",
    )
    ws_open_timeout_s: PosFloat = Field(10.0, description="handshake timeout")
    ws_rotate_after_s: PosFloat = Field(
        23.5 * 3600,
        description="proactive reconnect before the venue's lifetime limit (Binance 24 h)",
    )

    # --- instrument listings
    listing_refresh_s: PosFloat = Field(
        3_600.0, description="period of each venue's instrument listing refresh"
    )
    listing_cache_dir: str = Field(
        "data/listings",
        description="one JSON listing per venue; a restart or a venue outage starts from it; "
        "empty: no cache (the venue's naming rule when its listing cannot be fetched)",
    )
    listing_cache_max_age_s: PosFloat = Field(
        86_400.0,
        description="a cached listing younger than this is used at start without waiting for "
        "the venue (older: fetched first, the cache only when the venue is down)",
    )
    symbols_refresh_s: PosFloat = Field(
        3_600.0, description="period of the top:N ranking by 24 h USD volume"
    )

    # --- REST collector
    rest_enabled: bool = Field(
        True, description="poll current funding/open interest and sync history"
    )
    rest_timeout_s: PosFloat = Field(10.0, description="timeout of every REST request")
    rest_poll_interval_s: PosFloat = Field(
        60.0, description="period of funding/open-interest polling and history sync"
    )
    rest_circuit_failures: PosInt = Field(
        5, description="consecutive failures that open an endpoint's circuit"
    )
    rest_circuit_reset_s: PosFloat = Field(
        30.0, description="how long a circuit stays open before one probe"
    )
    rest_history_dir: str = Field(
        "data/history",
        description="CSV per venue/kind/symbol, one row per time (re-fetched rows replace); "
        "the newest row is the resume point; empty disables sync",
    )
    demo_history_dir: str = Field(
        "data/demo/history",
        description="where `run --demo` writes its simulated history instead of REST_HISTORY_DIR",
    )
    rest_history_lookback_h: PosFloat = Field(
        6.0, description="history sync reaches back at most this far (first run, after a gap)"
    )
    rest_error_log_interval_s: PosFloat = Field(
        60.0, description="REST failures are logged once per venue and cause per interval, counted"
    )
    clock_skew_poll_s: float = Field(
        300.0,
        ge=0,
        description="period of the venues' server-time requests for the clock skew in /health "
        "and /metrics (3 requests each; 0 = off)",
    )

    # --- aggregator (SPEC section 4)
    aggregator_min_exchanges: PosInt = Field(
        2, description="fresh venues needed for a normalized entry"
    )
    aggregator_stale_after_s: PosFloat = Field(
        10.0, description="a venue not heard from for this long is excluded as stale"
    )
    aggregator_outlier_pct: PosFloat = Field(
        5.0, description="a venue this far (%) from the median is excluded as an outlier"
    )
    aggregator_min_emit_interval_ms: PosInt = Field(
        250, description="at most one normalized entry per symbol per interval"
    )
    aggregator_max_emit_interval_ms: PosInt = Field(
        1_000, description="at least one entry per interval while data flows"
    )
    aggregator_vol_short_window_s: PosFloat = Field(
        300.0, description="short realized-volatility window"
    )
    aggregator_vol_long_window_s: PosFloat = Field(
        3_600.0, description="long realized-volatility window"
    )
    aggregator_vol_cap: PosFloat = Field(5.0, description="cap of volatility_factor")
    aggregator_volume_window_s: PosFloat = Field(
        60.0, description="window of per-venue traded volume"
    )
    depeg_threshold_pct: PosFloat = Field(
        0.5, lt=100, description="a stablecoin further than this % from 1 USD raises DEPEG"
    )

    # --- feature adapter (SPEC section 5)
    features_momentum_window_s: PosFloat = Field(60.0, description="price_momentum look-back")
    features_rolling_window: PosInt = Field(
        20, description="snapshots in rolling std/correlation windows"
    )
    features_lead_lag_window_s: PosFloat = Field(
        300.0, description="window of the lead-lag estimator"
    )
    features_lead_lag_max_lag_ms: PosInt = Field(
        2_000, description="largest lag the lead-lag scan tries"
    )

    # --- ExitBrain v3 (SPEC section 6)
    exitbrain_stale_after_s: PosFloat = Field(
        60.0, description="older normalized data puts ExitBrain in local mode"
    )
    exitbrain_atr_coef: float = Field(
        0.6, description="atr_multiplier = 1 + coef * volatility_factor"
    )
    exitbrain_tp_coef: float = Field(
        0.8, description="tp_multiplier = 1 + coef * funding_delta (percent per 8 h)"
    )
    exitbrain_tp_multiplier_min: PosFloat = Field(
        0.5, le=1.0, description="lower clamp of tp_multiplier (named in reasoning when applied)"
    )
    exitbrain_tp_multiplier_max: float = Field(
        1.5, ge=1.0, description="upper clamp of tp_multiplier (named in reasoning when applied)"
    )
    exitbrain_sl_coef: float = Field(
        0.4, description="sl_multiplier = 1 + coef * min(exchange_divergence, cap)"
    )
    exitbrain_trailing_max_vol: PosFloat = Field(
        3.0, description="trailing only while volatility_factor is below this"
    )
    exitbrain_vol_cap: PosFloat = Field(5.0, description="volatility_factor cap before use")
    exitbrain_max_failures: PosInt = Field(
        3, description="consecutive read failures that switch to local mode until a fresh read"
    )
    exitbrain_interval_s: PosFloat = Field(5.0, description="ExitBrain loop period per symbol")
    exitbrain_warmup_s: float = Field(
        30.0, ge=0, le=600,
        description="at start the loop waits up to this long for fresh normalized data",
    )  # fmt: skip
    exitbrain_default_use_trailing: bool = Field(True, description="use_trailing in local mode")
    exitbrain_min_tp_pct: PosFloat = Field(
        0.3, description="minimum take-profit distance, % of entry"
    )
    exitbrain_min_sl_pct: PosFloat = Field(
        0.15, description="minimum stop-loss distance, % of entry"
    )
    exitbrain_divergence_cap: PosFloat = Field(
        1.0, description="exchange_divergence cap in the SL formula"
    )
    exitbrain_divergence_alert: PosFloat = Field(
        0.02, description="PRICE_DIVERGENCE alert above this divergence"
    )
    exitbrain_min_exchanges: PosInt = Field(
        2, description="a snapshot with fewer venues counts as missing data"
    )

    # --- health and simulator
    collector_live_file: str = Field(
        "",
        description="the collector touches this file every second (its container's liveness "
        "check); empty = off",
    )
    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Prometheus /metrics port for processes without the API (collector); 0 = off",
    )
    simulator_host: str = Field("127.0.0.1", description="exchange simulator bind address")
    simulator_port: int = Field(
        8765, ge=0, le=65535, description="exchange simulator port (0 = any free port)"
    )
