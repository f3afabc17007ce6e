"""What the dashboard draws, made from stream records: pure functions, no I/O, no clock.

Every event is a small JSON-ready dict with a `kind` the page dispatches on:

- `normalized`: one `exchange.normalized` snapshot: each venue's price, the cross-venue
  reference (the median of the included venue prices, `median_price`), the mean, divergence
  (`exchange_divergence` in bps of the median, and `price_divergence` in quote units), the
  funding spread (`funding_delta`) and mean funding, funding per perp venue (`funding_8h`, all
  in percent per 8 h), the volatility factor, the NBBO and `arb_bps`, and the venues the
  aggregator excluded with the reason (stale, outlier);
- `status`: one `exitbrain.status` entry: the ExitBrain multipliers and local/cross mode;
- `alert`: one `exitbrain.alerts` or `alerts` entry, with its origin (`exitbrain`, `market`);
- `features`: the newest ML feature vector of a symbol;
- `venues`: venue health from the collector's health hash (`venue_health`);
- `row`: an entry of an optional stream (large trades, model signals) as flat numbers/text.

Times are epoch seconds (float), what uPlot's time axis takes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from microservices.common.market_alerts import MarketAlert
from microservices.common.records import ExitAlert, ExitStatus, FeatureVector, NormalizedSnapshot

Event = dict[str, Any]
# venue display states: what the health table colours
CONNECTED, STALE, DEGRADED, DOWN, UNKNOWN = "connected", "stale", "degraded", "down", "unknown"


def _num(value: float | None) -> float | None:
    """JSON has no NaN/inf: they become null."""
    return None if value is None or not math.isfinite(value) else value


def normalized_event(snap: NormalizedSnapshot) -> Event:
    median = snap.median_price
    return {
        "kind": "normalized",
        "symbol": snap.symbol,
        "t": snap.ts_ms / 1000,
        "ref": _num(median),
        "avg": _num(snap.avg_price),
        "prices": {venue: _num(q.price) for venue, q in snap.venues.items()},
        "divergence_bps": _num(snap.exchange_divergence * 1e4),
        "price_divergence": _num(snap.price_divergence),
        "funding_delta": _num(snap.funding_delta),
        "avg_funding": _num(snap.avg_funding_rate),
        "funding": {
            v: _num(q.funding_8h) for v, q in snap.venues.items() if q.funding_8h is not None
        },
        "vol": _num(snap.volatility_factor),
        "best_bid": _num(snap.best_bid),
        "best_bid_venue": snap.best_bid_exchange,
        "best_ask": _num(snap.best_ask),
        "best_ask_venue": snap.best_ask_exchange,
        "arb_bps": _num(snap.arb_bps),
        "excluded": dict(snap.excluded),
        "n": snap.num_exchanges,
    }


def status_event(status: ExitStatus) -> Event:
    return {
        "kind": "status",
        "symbol": status.symbol,
        "t": status.ts_ms / 1000,
        "mode": "cross" if status.cross_exchange_active else "local",
        "atr": _num(status.atr_multiplier),
        "tp": _num(status.tp_multiplier),
        "sl": _num(status.sl_multiplier),
        "trailing": status.use_trailing,
        "age_s": _num(status.data_age_seconds),
        "reasoning": status.reasoning,
        "fail_count": status.fail_count,
    }


def exit_alert_event(alert: ExitAlert) -> Event:
    severity = "info" if alert.type == "RECOVERED" else "warning"
    return {
        "kind": "alert", "origin": "exitbrain", "t": alert.ts_ms / 1000, "type": alert.type,
        "severity": severity, "symbol": alert.symbol, "venue": "", "reason": alert.reason,
    }  # fmt: skip


def market_alert_event(alert: MarketAlert) -> Event:
    return {
        "kind": "alert", "origin": "market", "t": alert.ts_ms / 1000, "type": alert.type,
        "severity": alert.severity, "symbol": alert.symbol, "venue": alert.venue,
        "reason": alert.reason,
    }  # fmt: skip


def features_event(vector: FeatureVector) -> Event:
    values = {name: _num(value) for name, value in vector.values.items()}
    return {"kind": "features", "symbol": vector.symbol, "t": vector.ts_ms / 1000, "values": values}


def row_event(source: str, entry_id: str, fields: Mapping[str, str]) -> Event:
    """An entry of an optional stream whose schema the dashboard does not know: numbers where
    the text is a finite number, else the text; `t` from the entry id (when Redis added it)."""
    values: dict[str, Any] = {}
    for name, text in fields.items():
        try:
            number = float(text)
        except ValueError:
            values[name] = text
            continue
        values[name] = number if math.isfinite(number) else text
    return {"kind": "row", "source": source, "t": _id_seconds(entry_id), "values": values}


def _id_seconds(entry_id: str) -> float:
    head = entry_id.split("-", 1)[0]
    return int(head) / 1000 if head.isdigit() else 0.0


def venue_health(state: Mapping[str, Any] | None, now_ms: int | None = None) -> Event:
    """One venue's display state from its collector health block (`venue_status.summary`):
    connected; stale (sockets open but quiet past the venue's silence timeout, or reopened and
    still waiting for data, or reconnecting after such a silence, or no data for longer than
    the timeout); degraded (some of its
    connections live); down (no socket open); unknown (no block: collector not running).
    `cause` says why in a few words. With `now_ms` the age is measured from the block's
    `last_message_ms` (the collector publishes its blocks once a second), else its
    `last_message_age_s` as published."""
    if not state:
        return {"status": UNKNOWN, "cause": "no collector report", "age_s": None}
    raw = str(state.get("state", "unknown"))
    age = state.get("last_message_age_s")
    last_ms = state.get("last_message_ms")
    if now_ms is not None and isinstance(last_ms, int) and last_ms > 0:
        age = round(max(now_ms - last_ms, 0) / 1000, 1)
    timeout = state.get("silence_timeout_s")
    cause = str(state.get("last_cause") or "")
    quiet = isinstance(age, int | float) and isinstance(timeout, int | float) and age > timeout
    if raw == "connected" and not quiet:
        status, why = CONNECTED, ""
    elif raw in ("silent", "connecting") or (raw == "connected" and quiet):
        status = STALE
        why = f"no data for {age:g} s" if isinstance(age, int | float) else "no data yet"
    elif raw == "degraded":
        live, total = state.get("live", 0), state.get("connections", 0)
        status, why = DEGRADED, f"{live}/{total} connections live"
    elif raw == "disconnected" and cause.startswith("silent"):
        status, why = STALE, "reconnecting after silence"  # the feed, not the venue, is down
    elif raw == "disconnected":
        status, why = DOWN, "disconnected"
    else:
        status, why = UNKNOWN, raw
    if cause and status != CONNECTED:
        why = f"{why}; last cause: {cause}" if why else cause
    return {"status": status, "cause": why, "age_s": age, "state": raw}


def venues_event(blocks: Mapping[str, Any], venues: list[str], now_ms: int) -> Event:
    return {
        "kind": "venues",
        "t": now_ms / 1000,
        "venues": {venue: venue_health(blocks.get(venue), now_ms) for venue in venues},
    }
