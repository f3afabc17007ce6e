"""A local webhook receiver for the notifier tests: it answers a script of failures first
(500s, 429s with Retry-After), then 200, and records every request it got."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from microservices.common.redis_server import free_port


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    key: str  # the Idempotency-Key header
    body: dict[str, Any]
    status: int  # what the receiver answered


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"


@dataclass
class Receiver:
    """`script[path]`: answers given before the default 200, in order."""

    base_url: str = ""
    script: dict[str, list[Answer]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    def delivered(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path and r.status == 200]

    def keys(self, path: str) -> list[str]:
        return [r.key for r in self.delivered(path)]

    async def handle(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        queue = self.script.get(request.path, [])
        answer = queue.pop(0) if queue else Answer(200)
        key = request.headers.get("Idempotency-Key", "")
        self.received.append(Received(request.path, key, body, answer.status))
        return web.Response(status=answer.status, headers=answer.headers, body=answer.body)


@asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    receiver.base_url = f"http://127.0.0.1:{port}"
    try:
        yield receiver
    finally:
        await runner.cleanup()
