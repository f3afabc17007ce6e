"""Container healthcheck (liveness): exit 0 while this container's process is alive and serving.

Liveness only, never readiness: an exchange or Redis outage must not get a container restarted
(SPEC section 7), so nothing here depends on the venues, and the engine's check skips Redis.
  SERVICE_ROLE=collector: COLLECTOR_LIVE_FILE, touched every second by the collector's health
    loop, is younger than 15 s. Without that setting: its Redis heartbeat hash exists.
  otherwise (engine): GET http://127.0.0.1:$API_PORT/health/live answers 200.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import redis
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException

from microservices.common.settings import Settings, load_settings
from microservices.common.streams import COLLECTOR_HEALTH_TTL_S, collector_key


def check_collector() -> bool:
    settings = load_settings(env_file=None)
    if settings.collector_live_file:
        return live_file_fresh(Path(settings.collector_live_file), COLLECTOR_HEALTH_TTL_S)
    return heartbeat_exists(settings)


def live_file_fresh(path: Path, max_age_s: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime <= max_age_s
    except OSError:
        return False


def heartbeat_exists(settings: Settings) -> bool:
    if settings.redis_url is None:
        return False
    client: Any
    if settings.redis_cluster:
        client = RedisCluster.from_url(settings.redis_url, socket_timeout=3)
    else:
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=3)
    try:
        return bool(client.exists(collector_key(settings.stream_prefix, "health")))
    except (redis.RedisError, RedisClusterException):
        return False
    finally:
        client.close()


def check_engine() -> bool:
    port = os.environ.get("API_PORT", "8001")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=4) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def main() -> int:
    role = os.environ.get("SERVICE_ROLE", "engine")
    healthy = check_collector() if role == "collector" else check_engine()
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
