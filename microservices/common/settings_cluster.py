"""Settings of Redis Cluster mode (issue 19), declared like `settings_fields` (a `# --- ` group
line, then fields); `SettingsFields` inherits them, so they are ordinary settings."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class ClusterSettingsFields(BaseSettings):
    """The Redis Cluster declarations."""

    # --- Redis Cluster
    redis_cluster: bool = Field(
        False,
        description="REDIS_URL names one node of a Redis Cluster: every service uses redis-py's "
        "cluster client (slot routing, MOVED/ASK redirects; compose profile `cluster`)",
    )
