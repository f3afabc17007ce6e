"""Settings of the online spectral-residual anomaly monitor (issue 17), declared like
`settings_fields` (a `# ---` group line, then fields); `SettingsFields` inherits them, so they
are ordinary settings. Bad values fail at start (the field bounds and the validator below)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings


class AnomalySettingsFields(BaseSettings):
    """The anomaly monitor's declarations."""

    # --- anomaly detection
    anomaly_enabled: bool = Field(
        True,
        description="the engine runs spectral-residual detection on exchange.normalized "
        "(consumer group `anomaly`): avg_price returns, exchange_divergence and each venue's "
        "volume, to exchange.anomalies and ANOMALY_BURST alerts",
    )
    anomaly_sample_ms: int = Field(
        1_000, ge=100, le=3_600_000,
        description="one sample per symbol this often (later snapshots in between are skipped)",
    )  # fmt: skip
    anomaly_history: int = Field(
        200, ge=21, le=10_000, description="samples per series the detector looks at"
    )
    anomaly_window_size: int = Field(
        20, ge=3, le=10_000,
        description="samples a series needs before its points are judged (seed 003: 20)",
    )  # fmt: skip
    anomaly_threshold: float = Field(
        3.0, gt=0, le=1_000,
        description="a sample is anomalous when (saliency - mean of the previous "
        "ANOMALY_SCORE_WINDOW saliencies) / that mean exceeds this (seed 003: 3.0)",
    )  # fmt: skip
    anomaly_mag_window: int = Field(
        3, ge=1, le=1_000, description="average filter of the log amplitude spectrum (seed: 3)"
    )
    anomaly_score_window: int = Field(
        40, ge=1, le=10_000, description="saliencies in the local mean of the score (seed: 40)"
    )
    anomaly_burst_min_points: int = Field(
        3, ge=1, le=1_000, description="a burst is at least this many anomalous samples ..."
    )
    anomaly_burst_max_gap: int = Field(
        2, ge=0, le=1_000, description="... at most this many normal samples apart"
    )
    anomaly_alert_cooldown_s: float = Field(
        300.0, ge=0, le=86_400,
        description="ANOMALY_BURST of one symbol, series and venue at most once per this long",
    )  # fmt: skip
    maxlen_anomalies: int = Field(10_000, gt=0, description="MAXLEN ~ of exchange.anomalies")

    @model_validator(mode="after")
    def _history_holds_a_window(self) -> Self:
        if self.anomaly_history <= self.anomaly_window_size:
            raise ValueError(
                f"ANOMALY_HISTORY ({self.anomaly_history}) must exceed ANOMALY_WINDOW_SIZE "
                f"({self.anomaly_window_size})"
            )
        return self
