"""Container healthcheck: exit 0 when this container's service is healthy.

SERVICE_ROLE=collector: the collector's heartbeat hash exists in Redis (it has a 15 s TTL and
is rewritten every second). Otherwise (engine): GET http://127.0.0.1:$API_PORT/health is 200.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

import redis

from microservices.common.settings import load_settings
from microservices.common.streams import collector_key


def check_collector() -> bool:
    settings = load_settings(env_file=None)
    if settings.redis_url is None:
        return False
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=3)
    try:
        return bool(client.exists(collector_key(settings.stream_prefix, "health")))
    except redis.RedisError:
        return False
    finally:
        client.close()


def check_engine() -> bool:
    port = os.environ.get("API_PORT", "8001")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=4) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def main() -> int:
    role = os.environ.get("SERVICE_ROLE", "engine")
    healthy = check_collector() if role == "collector" else check_engine()
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
