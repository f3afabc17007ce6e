"""Settings of alert delivery to webhooks (issue 18), declared like `settings_fields` (a
`# ---` group line, then fields); `SettingsFields` inherits them, so they are ordinary
settings. ALERT_TARGETS holds secrets (webhook URLs, bot tokens): its errors name the
target and field only, and its value is never logged or shown by /health."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode

from microservices.notify.targets import AlertTarget, parse_targets

Targets = Annotated[list[AlertTarget], NoDecode]


class NotifySettingsFields(BaseSettings):
    """The alert-delivery declarations."""

    # --- alert delivery
    alert_targets: Targets = Field(
        [],
        description="webhook targets of the notifier, a JSON list; each: name, format "
        "(json, slack, discord, telegram), url (telegram: bot_token, chat_id), optional "
        "streams, types, symbols, min_severity, rate_per_min, burst (docs/ALERT_DELIVERY.md); "
        "empty = no delivery",
    )
    notify_retry_base_s: float = Field(
        1.0, gt=0, description="first retry delay of a failed delivery (doubles, jittered)"
    )
    notify_retry_cap_s: float = Field(
        60.0, gt=0, description="longest delay between delivery retries (a receiver's own "
        "Retry-After is honoured up to notify_max_retry_after_s)",
    )  # fmt: skip
    notify_max_retry_after_s: float = Field(
        600.0, gt=0, description="a receiver's Retry-After (429) is honoured up to this long"
    )
    notify_timeout_s: float = Field(
        10.0, gt=0, le=120, description="HTTP timeout of one delivery attempt"
    )

    @field_validator("alert_targets", mode="before")
    @classmethod
    def _targets(cls, value: Any) -> list[AlertTarget]:
        return parse_targets(value)

    @model_validator(mode="after")
    def _retry_bounds(self) -> Any:
        if self.notify_retry_cap_s < self.notify_retry_base_s:
            raise ValueError("NOTIFY_RETRY_CAP_S must be at least NOTIFY_RETRY_BASE_S")
        return self
