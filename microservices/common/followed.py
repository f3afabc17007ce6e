"""The followed-symbol set the collectors publish, read back as one (collectors split by venue
or by symbol set each publish their part).

A collector with no COLLECTOR_ID replaces the hash `<prefix>collector.symbols` (field: followed
symbol, value: JSON venue -> instrument; `_updated_ms`). Collectors that share a Redis name
themselves with COLLECTOR_ID: each replaces its own hash `<prefix>collector.symbols.<id>` and
adds its id to the set `<prefix>collector.instances`. Readers merge every part: a symbol's
venues are the union of what each collector lists (a venue listed twice keeps the part read
last, in id order), `_updated_ms` the newest. A retired collector's part stays until its hash
and id are deleted (`redis-cli DEL <prefix>collector.symbols.<id>`, `SREM ... <id>`).
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from microservices.common.streams import collector_key

UPDATED_FIELD: Final = "_updated_ms"


def followed_key(prefix: str, collector_id: str = "") -> str:
    return collector_key(prefix, "symbols" + (f".{collector_id}" if collector_id else ""))


def instances_key(prefix: str) -> str:
    return collector_key(prefix, "instances")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def merge_parts(parts: list[dict[Any, Any]]) -> dict[str, Any]:
    """One field -> value mapping from every collector's hash (see the module docstring); a
    value that is not a JSON object is kept as is when it is the only one (callers skip it)."""
    out: dict[str, Any] = {}
    venues: dict[str, dict[str, Any]] = {}
    for part in parts:
        for raw_key, value in part.items():
            key = _text(raw_key)
            if key == UPDATED_FIELD:
                newest = out.get(UPDATED_FIELD)
                if newest is None or int(_text(value) or 0) > int(_text(newest) or 0):
                    out[UPDATED_FIELD] = value
                continue
            try:
                listed = orjson.loads(value)
            except orjson.JSONDecodeError:
                out.setdefault(key, value)
                continue
            if isinstance(listed, dict):
                venues.setdefault(key, {}).update(listed)
            else:
                out.setdefault(key, value)
    for key, listed in venues.items():
        out[key] = orjson.dumps(listed)
    return out


async def read_followed_parts(redis: Any, prefix: str) -> dict[str, Any]:
    """Every collector's published part merged; {} when none is published."""
    parts: list[dict[Any, Any]] = [await redis.hgetall(followed_key(prefix))]
    members: Any = await redis.smembers(instances_key(prefix))
    for member in sorted(_text(m) for m in members or ()):
        parts.append(await redis.hgetall(followed_key(prefix, member)))
    if len(parts) == 1:
        return {_text(k): v for k, v in parts[0].items()}
    return merge_parts(parts)
