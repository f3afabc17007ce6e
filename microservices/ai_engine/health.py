"""What /health reports, gathered from Redis so it is true across processes.

`gather_health` reads stream lengths and ages, consumer-group lag, the collector's per-venue
state (the `<prefix>collector.health` hash) and the freshness of normalized data per symbol;
`overall_status` turns that into ok / degraded / down. /health is readiness: `down` (Redis
unreachable, or no venue connected and no fresh data) answers 503. Liveness is /health/live.
"""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aredis

from microservices.ai_engine.symbols_api import followed_symbols
from microservices.common import shard_read
from microservices.common.clock import iso_utc, now_ms
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS
from microservices.common.settings import Settings
from microservices.common.streams import Stream, collector_key
from microservices.data_collector.polled import read_polled_health
from microservices.notify.service import notify_health
from microservices.storage.status import read_store_health


async def stream_info(redis: aredis.Redis, stream: Stream[Any], now: int) -> dict[str, Any]:
    """Length and newest entry's age of the stream, summed over its shards (and per shard
    under `shards` when it has more than one)."""
    lengths = await shard_read.lengths(redis, stream)
    heads = await shard_read.newest_per_shard(redis, stream, 1)
    ages = {name: _age_s(rows, now) for name, rows in heads.items()}
    known = [age for age in ages.values() if age is not None]
    out: dict[str, Any] = {
        "name": stream.name,
        "length": sum(lengths.values()),
        "last_entry_age_s": min(known) if known else None,
    }
    if stream.shards > 1:
        out["shards"] = {
            name: {"length": lengths[name], "last_entry_age_s": ages[name]} for name in lengths
        }
    return out


def _age_s(rows: list[Any], now: int) -> float | None:
    return round((now - shard_read.id_ms(rows[0][0])) / 1000, 3) if rows else None


async def group_info(redis: aredis.Redis, stream: Stream[Any]) -> dict[str, Any]:
    """Group -> {pending, lag} summed over the shards (per shard under `shards` when N > 1)."""
    return await shard_read.group_counters(redis, stream)


async def venue_states(redis: aredis.Redis, settings: Settings) -> dict[str, Any]:
    raw: Any = await redis.hgetall(collector_key(settings.stream_prefix, "health"))
    states = {k.decode(): orjson.loads(v) for k, v in raw.items()}
    producer = states.pop("_producer", None)
    venues: dict[str, Any] = {}
    for venue in settings.venues:
        venues[venue] = states.get(venue) or {"state": "unknown", "connected": 0}
    return {"venues": venues, "collector": producer}


async def normalized_freshness(
    redis: aredis.Redis, settings: Settings, now: int
) -> dict[str, dict[str, Any]]:
    """Per symbol: age of its newest normalized entry and how many venues it merged."""
    stream = settings.streams().normalized
    symbols = await followed_symbols(redis, settings)
    out: dict[str, dict[str, Any]] = {s: {"age_s": None, "num_exchanges": 0} for s in symbols}
    for name, wanted in _symbols_by_shard(stream, symbols).items():
        rows: Any = await redis.xrevrange(name, "+", "-", count=50 * max(1, len(wanted)))
        for entry_id, fields in rows:
            symbol = fields.get(b"symbol", b"").decode()
            if symbol in out and out[symbol]["age_s"] is None:
                out[symbol] = {
                    "age_s": round((now - shard_read.id_ms(entry_id)) / 1000, 3),
                    "num_exchanges": int(fields.get(b"num_exchanges", b"0") or 0),
                    "excluded": fields.get(b"excluded", b"").decode(),
                }
    return out


def _symbols_by_shard(stream: Stream[Any], symbols: list[str]) -> dict[str, list[str]]:
    """Shard name -> the followed symbols it holds (one stream: every symbol, even none)."""
    if stream.shards == 1:
        return {stream.name: symbols}
    out: dict[str, list[str]] = {}
    for symbol in symbols:
        out.setdefault(stream.shard_for(symbol).name, []).append(symbol)
    return out


def overall_status(
    venues: dict[str, Any], symbols: dict[str, Any], adapter: dict[str, Any], fresh_s: float
) -> str:
    connected = [v for v in venues.values() if v.get("state") == "connected"]
    fresh = [s for s in symbols.values() if s["age_s"] is not None and s["age_s"] <= fresh_s]
    if not connected and not fresh:
        return "down"
    if len(connected) < len(venues) or len(fresh) < len(symbols) or adapter.get("use_local_mode"):
        return "degraded"
    return "ok"


async def gather_health(
    redis: aredis.Redis, settings: Settings, adapter_stats: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body). Never raises on Redis faults: they make the answer 503/down."""
    now = now_ms()
    enabled = settings.cross_exchange_enabled
    integration = {"enabled": enabled, "adapter_stats": adapter_stats}
    try:
        await redis.ping()
        streams = settings.streams()
        stream_rows = {s.name: await stream_info(redis, s, now) for s in streams.all()}
        groups = {
            streams.raw.name: await group_info(redis, streams.raw),
            streams.orderbook.name: await group_info(redis, streams.orderbook),
            streams.normalized.name: await group_info(redis, streams.normalized),
        }
        venue_info = await venue_states(redis, settings)
        symbols = await normalized_freshness(redis, settings, now)
        notify = await notify_health(redis, settings.stream_prefix)
        configured = settings.database_url is not None and settings.store_enabled
        store = await read_store_health(redis, settings.stream_prefix, configured, now)
        polled = await read_polled_health(redis, settings.stream_prefix)
    except TRANSIENT_REDIS_ERRORS as exc:
        return 503, {
            "status": "down",
            "timestamp": iso_utc(now),
            "redis": {"connected": False, "error": type(exc).__name__},
            "metrics": {"cross_exchange_intelligence": False},
            "cross_exchange_exitbrain_integration": integration,
        }
    fresh_s = settings.exitbrain_stale_after_s
    any_fresh = any(s["age_s"] is not None and s["age_s"] <= fresh_s for s in symbols.values())
    status = overall_status(venue_info["venues"], symbols, adapter_stats, fresh_s)
    body = {
        "status": status,
        "timestamp": iso_utc(now),
        "redis": {"connected": True},
        "metrics": {
            "cross_exchange_intelligence": bool(enabled and any_fresh),
            "symbols": symbols,
        },
        "cross_exchange_exitbrain_integration": integration,
        "venues": venue_info["venues"],
        "collector": venue_info["collector"],
        "streams": stream_rows,
        "consumer_groups": groups,
        "store": store,  # the PostgreSQL writer: state, rows, rejected and lost entries
        "notify": notify,  # per ALERT_TARGETS target: counters and routing, no URL or token
        "polled_venues": polled,  # delayed venues (CME): last poll and counters, not in status
    }
    return (503 if status == "down" else 200), body
