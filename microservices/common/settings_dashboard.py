"""Settings of the web dashboard and the API's access token (issue 18), declared like
`settings_fields` (a `# ---` group line, then fields); `SettingsFields` inherits them."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

MIN_TOKEN_CHARS = 16


class DashboardSettingsFields(BaseSettings):
    """The dashboard and access declarations."""

    # --- dashboard and API access
    api_token: str = Field(
        "",
        description="bearer token every API route but /health/live, /metrics and the dashboard "
        "shell requires (Authorization: Bearer <token>; the live stream also takes ?token=); "
        f"empty = open; at least {MIN_TOKEN_CHARS} characters",
    )
    dashboard_client_queue: int = Field(
        256, ge=8, le=100_000,
        description="events buffered per live-stream client; a slower client loses the "
        "oldest-not-yet-sent events (counted in ce_dashboard_dropped_total), never blocks",
    )  # fmt: skip
    dashboard_history_points: int = Field(
        600, ge=10, le=10_000,
        description="points per symbol the dashboard loads at start (exchange.normalized)",
    )  # fmt: skip
    dashboard_poll_ms: int = Field(
        500, ge=50, le=2_000,
        description="the live stream reads new stream entries with an XREAD blocking this long "
        "(below REDIS_SOCKET_TIMEOUT_S)",
    )  # fmt: skip

    @field_validator("api_token")
    @classmethod
    def _token(cls, value: str) -> str:
        token = value.strip()
        if token and (len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token)):
            raise ValueError(
                f"API_TOKEN must be at least {MIN_TOKEN_CHARS} characters without spaces"
            )
        return token
