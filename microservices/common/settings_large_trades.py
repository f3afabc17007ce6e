"""Settings of large trades, market alerts and the RabbitMQ bridge (issue 16), declared like
`settings_fields` (a `# ---` group line, then fields); `SettingsFields` inherits them, so they
are ordinary settings. Bad values fail at start (the field bounds and validators below)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings


class LargeTradeSettingsFields(BaseSettings):
    """The large-trade, market-alert and RabbitMQ declarations."""

    # --- large trades and market alerts
    large_trades_enabled: bool = Field(
        True,
        description="the engine detects large trades and liquidations on exchange.raw "
        "(consumer group `large_trades`) and raises LARGE_TRADE, LIQUIDATION_CLUSTER, "
        "FUNDING_SPIKE and OI_CHANGE alerts",
    )
    large_trade_btc_usd: float = Field(
        100_000.0,
        gt=0,
        description="a BTC trade or liquidation of at least this USD value is large",
    )
    large_trade_eth_usd: float = Field(
        50_000.0, gt=0, description="the same for ETH (seed 002: $50k)"
    )
    large_trade_other_usd: float = Field(
        20_000.0, gt=0, description="the same for every other base asset (seed 002: $20k)"
    )
    liquidation_cluster_count: int = Field(
        5, ge=2, le=1_000,
        description="LIQUIDATION_CLUSTER: this many liquidations of one symbol (all venues) ...",
    )  # fmt: skip
    liquidation_cluster_min_usd: float = Field(
        10_000.0, gt=0, description="... each worth at least this many USD ..."
    )
    liquidation_cluster_window_s: float = Field(
        60.0, gt=0, le=86_400, description="... within this many seconds"
    )
    funding_spike_abs_pct: float = Field(
        0.1, gt=0, lt=100,
        description="FUNDING_SPIKE when a venue's funding reaches this level in percent per "
        "8 h (either sign; 0.1 = 0.1 %, ten times the usual 0.01 %) ...",
    )  # fmt: skip
    funding_spike_jump_pct: float = Field(
        0.05, gt=0, lt=100,
        description="... or moves by this much (percent per 8 h) from its previous value",
    )  # fmt: skip
    oi_change_pct: float = Field(
        5.0, gt=0, le=1_000,
        description="OI_CHANGE when a venue's open interest moves by this many percent ...",
    )  # fmt: skip
    oi_change_window_s: float = Field(
        300.0, gt=0, le=86_400, description="... within this many seconds"
    )
    market_alert_cooldown_s: float = Field(
        300.0, ge=0, le=86_400,
        description="a FUNDING_SPIKE or OI_CHANGE of one venue and instrument, or a "
        "LIQUIDATION_CLUSTER of one symbol, is raised at most once per this many seconds",
    )  # fmt: skip
    maxlen_large_trades: int = Field(10_000, gt=0, description="MAXLEN ~ of exchange.large_trades")
    rabbitmq_url: str | None = Field(
        None,
        description="amqp://user:pass@host:5672/vhost: large trades and alerts are also "
        "published to RabbitMQ; unset: no RabbitMQ",
    )
    rabbitmq_exchange: str = Field(
        "market_data",
        description="topic exchange of those messages (routing keys large_trades, alerts.<type>)",
    )
    rabbitmq_buffer_max: int = Field(
        10_000, gt=0, le=1_000_000,
        description="messages held while the broker is down; beyond it the oldest are "
        "dropped and counted",
    )  # fmt: skip

    @field_validator("rabbitmq_url")
    @classmethod
    def _amqp_url(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("amqp", "amqps") or not parts.hostname:
            raise ValueError("RABBITMQ_URL must look like amqp://user:pass@host:5672/vhost")
        return value.strip()

    @field_validator("rabbitmq_exchange")
    @classmethod
    def _exchange_name(cls, value: str) -> str:
        if not value or len(value) > 255 or any(ch.isspace() for ch in value):
            raise ValueError("RABBITMQ_EXCHANGE must be 1-255 characters without spaces")
        return value
