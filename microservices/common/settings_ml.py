"""Settings of the ML layer (issue 17: training, registry, online signals), declared like
`settings_fields` (a `# ---` group line, then fields); `SettingsFields` inherits them, so they
are ordinary settings. Bad values fail at start (the field bounds)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings


class MlSettingsFields(BaseSettings):
    """The ML layer's declarations."""

    # --- machine learning
    ml_model_dir: str = Field(
        "data/models",
        description="model registry: versions/<VERSION>/ (model, metadata, report) and the "
        "`current` pointer `cross-exchange model promote` sets",
    )
    ml_signals_enabled: bool = Field(
        True,
        description="the engine scores every feature vector with the current model (if one "
        "is promoted) and publishes exchange.signals; without a model it runs as before",
    )
    ml_reload_s: float = Field(
        10.0, gt=0, le=3_600, description="how often the engine checks the `current` pointer"
    )
    ml_threshold: float = Field(
        0.5, gt=0, lt=1, description="primary probability at or above which a signal is long"
    )
    ml_meta_threshold: float = Field(
        0.7, gt=0, lt=1, description="meta-model probability that confirms a primary positive"
    )
    ml_cost_bps: float = Field(
        5.0, ge=0, le=1_000,
        description="round-trip taker fees in bps charged to every simulated trade (the "
        "NBBO spread of the row, half in and half out, is added)",
    )  # fmt: skip
    ml_optuna_storage: str = Field(
        "",
        description="SQLAlchemy URL of the Optuna studies; empty: DATABASE_URL (as "
        "postgresql+psycopg://) when set, else sqlite under ML_MODEL_DIR/optuna.db",
    )
    maxlen_signals: int = Field(10_000, gt=0, description="MAXLEN ~ of exchange.signals")

    @field_validator("ml_model_dir")
    @classmethod
    def _dir_given(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a directory")
        return value.strip()
