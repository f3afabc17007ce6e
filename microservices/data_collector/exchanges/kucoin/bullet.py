"""KuCoin's WebSocket endpoint per connection: `POST /api/v1/bullet-public` answers a token and
`instanceServers` (endpoint, pingInterval, pingTimeout); the socket opens at
`<endpoint>?token=<token>&connectId=<id>`. A token serves one connection: every (re)connect
asks again, which also covers an expired token. `ws_url()` is pure; `fetch_ws_url()` is the
one HTTP call (aiohttp), made by the WS bridge through `Exchange.resolve_ws_url`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import orjson

PATH: Final = "/api/v1/bullet-public"
OK: Final = "200000"


class BulletFailed(ConnectionError):
    """No WebSocket endpoint from bullet-public (an OSError: the bridge retries it with its
    backoff, honouring `retry_after_s` after a 429)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class Bullet:
    """One bullet-public answer: the token and the first instance server."""

    token: str
    endpoint: str  # wss://ws-api-spot.kucoin.com/
    ping_interval_ms: int
    ping_timeout_ms: int


def parse_bullet(payload: Any) -> Bullet:
    """The token and first server of a bullet-public answer; BulletFailed otherwise."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(payload, dict) or payload.get("code") != OK or not isinstance(data, dict):
        code = payload.get("code") if isinstance(payload, dict) else None
        raise BulletFailed(f"kucoin bullet-public code {code!r}")
    servers = data.get("instanceServers")
    token = data.get("token")
    if not isinstance(token, str) or not token or not isinstance(servers, list) or not servers:
        raise BulletFailed("kucoin bullet-public without token or instanceServers")
    server = servers[0]
    try:
        return Bullet(token, str(server["endpoint"]), int(server.get("pingInterval", 18_000)),
                      int(server.get("pingTimeout", 10_000)))  # fmt: skip
    except (KeyError, TypeError, ValueError, AttributeError):
        raise BulletFailed("kucoin bullet-public: malformed instance server") from None


def ws_url(bullet: Bullet, connect_id: str) -> str:
    """`<endpoint>?token=..&connectId=..` (the endpoint's own trailing slash kept)."""
    query = urlencode({"token": bullet.token, "connectId": connect_id})
    return f"{bullet.endpoint}?{query}"


async def fetch_ws_url(rest_url: str, timeout_s: float) -> str:
    """POST bullet-public on `rest_url` and build the socket URL; BulletFailed on an HTTP
    error, a venue error code, a malformed answer or a failed request."""
    import aiohttp  # here, not at the top: importing the venue registry stays light (normalize)

    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(rest_url + PATH, timeout=timeout) as response,
        ):
            body = await response.read()
            status, retry = response.status, response.headers.get("Retry-After", "")
    except aiohttp.ClientError as exc:
        raise BulletFailed(f"kucoin bullet-public: {type(exc).__name__}") from exc
    if status != 200:
        wait = float(retry) if retry.isdigit() else None
        raise BulletFailed(f"kucoin bullet-public HTTP {status}", wait)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BulletFailed("kucoin bullet-public: not JSON") from None
    return ws_url(parse_bullet(payload), uuid.uuid4().hex)
