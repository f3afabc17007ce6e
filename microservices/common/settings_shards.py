"""Settings of stream sharding and shard ownership (issue 19), declared like `settings_fields`
(a `# ---` group line, then fields); `SettingsFields` inherits them."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from microservices.common.sharding import MAX_SHARDS


class ShardSettingsFields(BaseSettings):
    """The sharding declarations."""

    # --- shards
    stream_shards: int = Field(
        1, ge=1, le=MAX_SHARDS,
        description="shards of exchange.raw and the per-symbol streams (by a hash of the "
        "canonical symbol); 1 keeps the plain stream names, N > 1 names them <stream>:{i}",
    )  # fmt: skip
    owned_shards: str = Field(
        "",
        description="the shards this process's aggregator, feature adapter, ExitBrain, anomaly "
        "monitor and large-trade watcher own, e.g. 0,2-3 (static ownership); empty = all; "
        "ignored with SHARD_LEASES",
    )
    shard_leases: bool = Field(
        False,
        description="own shards through leases in Redis instead (dynamic: balanced over the "
        "live processes of a role, a dead owner's shards move within SHARD_LEASE_TTL_MS)",
    )
    shard_lease_ttl_ms: int = Field(
        5_000, ge=300, le=600_000,
        description="a shard lease's lifetime; owners renew it every third of it",
    )  # fmt: skip

    collector_id: str = Field(
        "", pattern=r"^[A-Za-z0-9_-]{0,40}$",
        description="name of this collector when several share a Redis (split by VENUES or "
        "SYMBOLS): each publishes its followed set as collector.symbols.<id>; empty = the one "
        "collector (collector.symbols)",
    )  # fmt: skip

    @field_validator("owned_shards")
    @classmethod
    def _shard_list(cls, value: str) -> str:
        text = value.replace(" ", "")
        for part in (p for p in text.split(",") if p):
            low, _, high = part.partition("-")
            if not low.isdigit() or (high and not high.isdigit()):
                raise ValueError(f"OWNED_SHARDS: {part!r} is not a shard or a range like 2-3")
        return text
