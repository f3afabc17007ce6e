"""Webhook targets of the notifier, parsed from ALERT_TARGETS (a JSON list).

A target names a receiver (`name`: metric label and consumer-group suffix), its `format`
(json, slack, discord, telegram), where it is (`url`; Telegram: `bot_token` + `chat_id`) and
what it gets (`streams`, `types`, `symbols`, `min_severity`), at most `rate_per_min` messages
a minute with bursts of `burst`. URLs and tokens are `SecretStr`: their repr and every error
message show no part of them.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from microservices.common.market_alerts import MARKET_ALERT_TYPES, SEVERITIES
from microservices.common.records import ALERT_TYPES

Format = Literal["json", "slack", "discord", "telegram"]
StreamKey = Literal["alerts", "exitbrain.alerts"]
SEVERITY_RANK: Final = {"info": 0, "warning": 1, "critical": 2}
KNOWN_TYPES: Final = frozenset(MARKET_ALERT_TYPES) | frozenset(ALERT_TYPES)
TELEGRAM_API: Final = "https://api.telegram.org"


class AlertTarget(BaseModel):
    """One receiver (validated; secrets hidden)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    format: Format
    url: SecretStr | None = None
    bot_token: SecretStr | None = None
    chat_id: str | None = None
    api_base: str = TELEGRAM_API
    streams: tuple[StreamKey, ...] = ("alerts", "exitbrain.alerts")
    types: frozenset[str] = frozenset()  # empty: every type
    symbols: frozenset[str] = frozenset()  # empty: every symbol (and alerts about none)
    min_severity: Literal["info", "warning", "critical"] = "info"
    rate_per_min: float = Field(20.0, gt=0, le=6000)
    burst: int = Field(5, ge=1, le=1000)

    @model_validator(mode="after")
    def _check(self) -> AlertTarget:
        unknown = sorted(self.types - KNOWN_TYPES)
        if unknown:
            raise ValueError(f"unknown alert types {unknown}; known: {sorted(KNOWN_TYPES)}")
        if not self.streams:
            raise ValueError("streams is empty")
        if self.format == "telegram":
            if self.bot_token is None or not self.chat_id or self.url is not None:
                raise ValueError("telegram takes bot_token and chat_id, and no url")
            if not self.api_base.startswith(("https://", "http://")):
                raise ValueError("api_base must start with https:// or http://")
        else:
            if self.url is None or self.bot_token is not None:
                raise ValueError(f"{self.format} takes url, and no bot_token")
            if not self.url.get_secret_value().startswith(("https://", "http://")):
                raise ValueError("url must start with https:// or http://")
        object.__setattr__(self, "symbols", frozenset(s.upper() for s in self.symbols))
        return self

    def endpoint(self) -> str:
        """The URL to POST to (secret: never log it)."""
        if self.format == "telegram":
            assert self.bot_token is not None
            return f"{self.api_base.rstrip('/')}/bot{self.bot_token.get_secret_value()}/sendMessage"
        assert self.url is not None
        return self.url.get_secret_value()

    def public(self) -> dict[str, Any]:
        """What /health and logs may show: the routing, never the URL or token."""
        return {
            "format": self.format,
            "streams": list(self.streams),
            "types": sorted(self.types),
            "symbols": sorted(self.symbols),
            "min_severity": self.min_severity,
            "rate_per_min": self.rate_per_min,
        }


def parse_targets(value: Any) -> list[AlertTarget]:
    """ALERT_TARGETS text (JSON list; empty = none) or an already parsed list -> targets.
    Errors name the target and the field, never the value (it may hold a secret)."""
    if isinstance(value, str):
        if not value.strip():
            return []
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise ValueError("not valid JSON (a list of target objects)") from None
    if not isinstance(value, list):
        raise ValueError("must be a JSON list of target objects")
    targets = [_one(i, item) for i, item in enumerate(value)]
    names = [t.name for t in targets]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"target names repeat: {duplicates}")
    return targets


def _one(index: int, item: Any) -> AlertTarget:
    if isinstance(item, AlertTarget):
        return item
    label = item.get("name") if isinstance(item, dict) else None
    where = f"target {index}" + (f" ({label})" if isinstance(label, str) else "")
    try:
        return AlertTarget.model_validate(item)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_input=False, include_url=False):
            field = ".".join(str(part) for part in err["loc"])
            problems.append(f"{field}: {err['msg']}" if field else str(err["msg"]))
        raise ValueError(f"{where}: {'; '.join(problems)}") from None


def severity_passes(target: AlertTarget, severity: str) -> bool:
    return SEVERITY_RANK.get(severity, 0) >= SEVERITY_RANK[target.min_severity]


assert set(SEVERITY_RANK) == SEVERITIES
