"""ASGI middleware: the optional bearer token (API_TOKEN) in front of every route.

With a token set, a request needs `Authorization: Bearer <token>`; the live stream
(`/api/v1/stream`) also takes `?token=<token>`, since a browser's EventSource cannot set
headers. Open without it: `/health/live` (container healthchecks), `/metrics` (Prometheus
scrapes it on the private network, like the collector's :9101, which has no token either; the
`tls` profile's Caddy refuses it from outside), the dashboard's shell `/` and the static files
under `/static/` (code and styles, no data). Anything else answers 401
with `WWW-Authenticate: Bearer`, counted in ce_api_requests_refused_total{reason="unauthorized"}.
Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
from typing import Final
from urllib.parse import parse_qs

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from microservices.common import metrics

OPEN_PATHS: Final = frozenset({"/", "/health/live", "/metrics", "/favicon.ico"})
OPEN_PREFIXES: Final = ("/static/",)
QUERY_TOKEN_PATHS: Final = frozenset({"/api/v1/stream"})


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def presented_token(scope: Scope) -> str | None:
    """The bearer token of the request: the Authorization header, else `?token=` where taken."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    if scope.get("path") in QUERY_TOKEN_PATHS:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        values = query.get("token")
        return values[0] if values else None
    return None


def token_ok(expected: str, presented: str | None) -> bool:
    if presented is None:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


class TokenGuard:
    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.token:
            await self.app(scope, receive, send)
            return
        if is_open(scope.get("path", "")) or token_ok(self.token, presented_token(scope)):
            await self.app(scope, receive, send)
            return
        metrics.API_REQUESTS_REFUSED.labels(reason="unauthorized").inc()
        response = JSONResponse(
            {"detail": "missing or wrong bearer token (API_TOKEN)"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)
