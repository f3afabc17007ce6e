"""ASGI middleware that bounds HTTP request bodies (413 Payload Too Large beyond the limit).

A declared `Content-Length` over the limit is refused before the body is read; a chunked
body is counted as it arrives and refused as soon as it passes the limit, so a client can
never make the engine buffer more than `max_bytes` of one request.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from microservices.common import metrics


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # inside a route FastAPI turns this into the 413 response
                    metrics.API_REQUESTS_REFUSED.labels(reason="body_too_large").inc()
                    raise HTTPException(413, self._detail())
            return message

        return limited

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        metrics.API_REQUESTS_REFUSED.labels(reason="body_too_large").inc()
        response = PlainTextResponse(self._detail(), status_code=413)
        await response(scope, receive, send)

    def _detail(self) -> str:
        return f"request body larger than {self.max_bytes} bytes"


def _content_length(scope: Scope) -> int | None:
    """The declared body length; None when absent (chunked) or not a number."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
