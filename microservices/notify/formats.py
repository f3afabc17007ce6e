"""Alerts as webhook bodies: generic JSON, Slack, Discord and Telegram (pure functions).

Both alert streams become one `Alert` with an idempotency key `<stream name>:<entry id>`:
stable across retries and restarts, sent as the `Idempotency-Key` header and in every body
(the JSON field, Slack's context line, Discord's footer, Telegram's last line).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from microservices.common.clock import iso_utc
from microservices.common.market_alerts import MarketAlert
from microservices.common.records import ExitAlert

# ExitBrain's alerts carry no severity: this is theirs
EXITBRAIN_SEVERITY: Final = {
    "FALLBACK_TO_LOCAL": "warning",
    "RECOVERED": "info",
    "DATA_STALE": "warning",
    "EXCHANGE_DOWN": "critical",
    "PRICE_DIVERGENCE": "warning",
}
SLACK_COLORS: Final = {"info": "#2f81f7", "warning": "#d29922", "critical": "#cf222e"}
DISCORD_COLORS: Final = {"info": 0x2F81F7, "warning": 0xD29922, "critical": 0xCF222E}
MAX_DATA_ITEMS: Final = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """One alert of either stream, as the notifier routes and formats it."""

    key: str  # idempotency key: "<stream name>:<entry id>"
    stream: str
    entry_id: str
    type: str
    severity: str
    symbol: str
    venue: str
    source: str
    ts_ms: int
    reason: str
    data: dict[str, Any] = field(default_factory=dict)


def from_market(stream: str, entry_id: str, alert: MarketAlert) -> Alert:
    return Alert(
        key=f"{stream}:{entry_id}", stream=stream, entry_id=entry_id, type=alert.type,
        severity=alert.severity, symbol=alert.symbol, venue=alert.venue, source=alert.source,
        ts_ms=alert.ts_ms, reason=alert.reason, data=dict(alert.data),
    )  # fmt: skip


def from_exitbrain(stream: str, entry_id: str, alert: ExitAlert) -> Alert:
    return Alert(
        key=f"{stream}:{entry_id}", stream=stream, entry_id=entry_id, type=alert.type,
        severity=EXITBRAIN_SEVERITY.get(alert.type, "warning"), symbol=alert.symbol, venue="",
        source="exitbrain", ts_ms=alert.ts_ms, reason=alert.reason,
        data={"fail_count": alert.fail_count},
    )  # fmt: skip


def headline(alert: Alert) -> str:
    """`[WARNING] DEPEG USDCUSDT @ binance`: severity, type, then what it is about."""
    parts = [f"[{alert.severity.upper()}]", alert.type, alert.symbol]
    if alert.venue:
        parts.append(f"@ {alert.venue}")
    return " ".join(part for part in parts if part)


def _value(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def data_items(alert: Alert) -> list[tuple[str, str]]:
    """The first MAX_DATA_ITEMS data fields, sorted by name, as text."""
    return [(k, _value(v)) for k, v in sorted(alert.data.items())[:MAX_DATA_ITEMS]]


def json_body(alert: Alert) -> dict[str, Any]:
    return {
        "idempotency_key": alert.key,
        "stream": alert.stream,
        "id": alert.entry_id,
        "timestamp": iso_utc(alert.ts_ms),
        "type": alert.type,
        "severity": alert.severity,
        "symbol": alert.symbol,
        "venue": alert.venue,
        "source": alert.source,
        "reason": alert.reason,
        "data": alert.data,
    }


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(alert: Alert) -> dict[str, Any]:
    title = _slack_escape(headline(alert))
    reason = _slack_escape(alert.reason)
    details = ", ".join(f"{k}={v}" for k, v in data_items(alert))
    context = f"{iso_utc(alert.ts_ms)} | {alert.source} | key {alert.key}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n{reason}"[:3000]}}
    ]
    if details:
        section = {"type": "mrkdwn", "text": _slack_escape(details)[:3000]}
        blocks.append({"type": "section", "text": section})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {
        "text": f"{title}: {reason}"[:3000],
        "attachments": [{"color": SLACK_COLORS.get(alert.severity, "#d29922"), "blocks": blocks}],
        "idempotency_key": alert.key,
    }


def discord_body(alert: Alert) -> dict[str, Any]:
    embed = {
        "title": headline(alert)[:256],
        "description": alert.reason[:4096],
        "color": DISCORD_COLORS.get(alert.severity, DISCORD_COLORS["warning"]),
        "timestamp": iso_utc(alert.ts_ms),
        "footer": {"text": f"{alert.source} | key {alert.key}"[:2048]},
        "fields": [{"name": k[:256], "value": v[:1024], "inline": True}
                   for k, v in data_items(alert)],
    }  # fmt: skip
    return {"embeds": [embed], "allowed_mentions": {"parse": []}}


def telegram_text(alert: Alert) -> str:
    lines = [headline(alert)]
    if alert.reason:
        lines.append(alert.reason)
    lines += [f"{k}: {v}" for k, v in data_items(alert)]
    lines.append(f"{iso_utc(alert.ts_ms)} | {alert.source} | key {alert.key}")
    text = "\n".join(lines)
    return text if len(text) <= 4096 else text[:4000] + "\n...\n" + lines[-1]


def telegram_body(alert: Alert, chat_id: str) -> dict[str, Any]:
    return {"chat_id": chat_id, "text": telegram_text(alert), "disable_web_page_preview": True}


def body_for(fmt: str, alert: Alert, chat_id: str | None = None) -> dict[str, Any]:
    if fmt == "slack":
        return slack_body(alert)
    if fmt == "discord":
        return discord_body(alert)
    if fmt == "telegram":
        return telegram_body(alert, chat_id or "")
    return json_body(alert)
