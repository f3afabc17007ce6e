"""Settings of the PostgreSQL store and its writer (issue 16), declared like `settings_fields`
(a `# --- ` group line, then fields); `SettingsFields` inherits them, so they are ordinary
settings. Bad values fail at start (the field bounds and validators below)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

RETENTION_HELP = "days of {} kept (older rows are deleted by the retention job); 0 = forever"


class StorageSettingsFields(BaseSettings):
    """The storage declarations."""

    # --- storage (PostgreSQL)
    database_url: str | None = Field(
        None,
        description="postgresql://user:pass@host:5432/db of the store; unset: `run` starts a "
        "private cluster in PG_DATA_DIR, `engine`/`store` run without storage",
    )
    pg_data_dir: str = Field(
        "data/postgres",
        description="where `run` keeps its private PostgreSQL cluster (initdb on first start)",
    )
    store_enabled: bool = Field(
        True, description="`run` and `engine` include the writer when a database is configured"
    )
    store_batch_size: int = Field(
        2_000, gt=0, le=100_000, description="stream entries per writer transaction"
    )
    store_workers: int = Field(
        2, gt=0, le=16,
        description="consumers per stream in the storage group (concurrent transactions)",
    )  # fmt: skip
    store_block_ms: int = Field(
        1_000, gt=0, description="the writer's blocking read waits this long for entries"
    )
    store_claim_idle_ms: int = Field(
        30_000, gt=0, description="entries pending this long at a dead writer are taken over"
    )
    store_backoff_cap_s: float = Field(
        10.0, gt=0, description="longest wait between retries while the database is down"
    )
    store_spill_dir: str = Field(
        "data/store-spill",
        description="local file queue for rows while the database is down (fsynced before "
        "the entries are acknowledged, inserted when it is back); empty = no spill: entries "
        "wait in the streams, bounded by their MAXLEN",
    )
    store_spill_after_s: float = Field(
        5.0, ge=0, description="spill only once the database has been down this long"
    )
    store_spill_max_mb: float = Field(
        1024.0, gt=0, description="the spill queue's size limit; when full, entries wait"
    )
    store_orderbook_interval_s: float = Field(
        60.0, gt=0, description="one exchange_orderbooks snapshot per venue and symbol this often"
    )
    store_orderbook_levels: int = Field(
        50, gt=0, le=1000, description="levels per side in each order-book snapshot"
    )
    store_retention_interval_s: float = Field(
        3_600.0, gt=0, description="how often the retention job deletes expired rows"
    )
    retention_orderbooks_days: float = Field(
        7, ge=0, description=RETENTION_HELP.format("order-book snapshots")
    )
    retention_large_trades_days: float = Field(
        365, ge=0, description=RETENTION_HELP.format("large trades")
    )
    retention_funding_days: float = Field(
        365, ge=0, description=RETENTION_HELP.format("funding rates")
    )
    retention_open_interest_days: float = Field(
        365, ge=0, description=RETENTION_HELP.format("open interest")
    )
    retention_ohlc_days: float = Field(0, ge=0, description=RETENTION_HELP.format("OHLC bars"))
    retention_normalized_days: float = Field(
        30, ge=0, description=RETENTION_HELP.format("normalized snapshots")
    )
    retention_features_days: float = Field(
        180, ge=0, description=RETENTION_HELP.format("feature vectors")
    )
    retention_exitbrain_days: float = Field(
        90, ge=0, description=RETENTION_HELP.format("ExitBrain status and alerts")
    )

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
            raise ValueError("DATABASE_URL must look like postgresql://user:pass@host:5432/db")
        return value.strip()

    def retention_days(self) -> dict[str, float]:
        """Table -> days kept (0: forever)."""
        return {
            "exchange_orderbooks": self.retention_orderbooks_days,
            "large_trades": self.retention_large_trades_days,
            "funding_rates": self.retention_funding_days,
            "open_interest": self.retention_open_interest_days,
            "ohlc": self.retention_ohlc_days,
            "normalized": self.retention_normalized_days,
            "features": self.retention_features_days,
            "exitbrain_status": self.retention_exitbrain_days,
            "exitbrain_alerts": self.retention_exitbrain_days,
        }
