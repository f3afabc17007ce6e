"""What every venue module provides, and the generic WebSocket/REST plumbing they share.

A venue module owns its dialect: paths, frame builders (`Dialect.render`), what client
messages mean (`Dialect.on_message`) and its REST handlers and error bodies (`RestSpec`).
The connection lifecycle (`serve_ws`) and the number formatting helpers live here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from microservices.exchange_simulator.market import Event, MarketModel
from microservices.exchange_simulator.ratelimit import Verdict
from microservices.exchange_simulator.session import Item, WsSession

if TYPE_CHECKING:
    from microservices.exchange_simulator.runtime import SimContext

logger = logging.getLogger(__name__)

Rendered = list[tuple[str, Any]]  # (stream/topic key, payload) in send order


class Dialect(ABC):
    """Frames of one market venue; one instance per server, shared by its connections."""

    url_venue: ClassVar[str]  # path prefix, stats and faults key
    market_venue: ClassVar[str]  # whose prices (MarketModel venue)

    def __init__(self, market: MarketModel) -> None:
        self.market = market

    @abstractmethod
    def render(self, events: list[Event], wanted: set[str]) -> Rendered:
        """Payloads for this venue's `events`, only for keys in `wanted`."""

    @abstractmethod
    def key_symbol(self, key: str) -> str | None:
        """Canonical symbol of a stream key, None if unknown or not simulated."""

    @abstractmethod
    def on_message(self, session: WsSession, text: str) -> None:
        """Handle one text frame from the client (subscribe, ping, ...)."""

    @abstractmethod
    def replay_key(self, obj: Any) -> str | None:
        """Stream key of a recorded frame (for filtering and stats)."""

    @abstractmethod
    def is_control(self, obj: Any) -> bool:
        """True for recorded acks/pongs, which replay skips (the simulator sends its own)."""

    def encode(self, key: str, payload: Any, mode: str) -> bytes:
        return orjson.dumps(payload)

    def initial_frames(self, keys: Iterable[str]) -> list[Item]:
        """Frames a client gets right after subscribing (snapshots, last match)."""
        return []

    def replay_frame(self, text: str, obj: Any, mode: str) -> bytes:
        return text.encode()

    def is_book_diff(self, key: str, data: bytes) -> bool:
        """True for an L2 delta frame (not a snapshot): what the depth_gap_every fault skips."""
        return False


@dataclass(frozen=True, slots=True)
class WsOptions:
    idle_timeout_s: float | None = None  # close when the client sends nothing this long
    subscribe_timeout_s: float | None = None  # close when no subscription by then
    ping_interval_s: float | None = None  # server pings (pong required within pong_timeout_s)
    pong_timeout_s: float = 60.0


@dataclass(frozen=True, slots=True)
class RestSpec:
    """How one venue prices and refuses REST requests."""

    weight: Callable[[str, Mapping[str, str]], int]  # (path after prefix, query) -> weight
    limited: Callable[[Verdict], web.Response]  # 429 / 418 response
    server_error: Callable[[], web.Response]  # 5xx response
    bans: bool = False  # 429 -> 418 escalation (Binance)
    weight_header: bool = False  # X-MBX-USED-WEIGHT-1M on every response


async def serve_ws(
    request: web.Request,
    ctx: SimContext,
    dialect: Dialect,
    mode: str,
    options: WsOptions,
    initial: Iterable[str] = (),
    greeting: Any = None,
) -> web.WebSocketResponse:
    """Run one client connection from handshake to close; `greeting` (a JSON value) is sent
    first, before any subscription (KuCoin's welcome)."""
    ws = web.WebSocketResponse(autoping=False, compress=False, max_msg_size=1 << 20)
    await ws.prepare(request)
    conn_id, seed = ctx.next_connection()
    session = WsSession(ws, request, ctx, dialect, mode, conn_id, seed)
    session.stats.ws_opened += 1
    ctx.hub.add(session)
    if greeting is not None:
        session.send_control(greeting)
    logger.debug(
        "sim.ws_opened", extra={"venue": session.venue, "path": request.path, "conn": conn_id}
    )
    tasks = [asyncio.create_task(session.run_sender(), name="sim.sender")]
    if options.ping_interval_s:
        pinger = session.run_pinger(options.ping_interval_s, options.pong_timeout_s)
        tasks.append(asyncio.create_task(pinger, name="sim.pinger"))
    try:
        initial = list(initial)
        if initial:
            session.subscribe(initial)
        await _read_loop(session, options)
    finally:
        await _finish(session, tasks)
    return ws


async def _finish(session: WsSession, tasks: list[asyncio.Task[None]]) -> None:
    """Stop the connection's tasks, close the socket and count it closed."""
    session.closing = True
    session.ctx.hub.remove(session)
    if session.replay_task is not None:
        tasks.append(session.replay_task)
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if not session.ws.closed:
        await session.ws.close()
    session.stats.ws_closed += 1
    logger.debug(
        "sim.ws_closed",
        extra={
            "venue": session.venue,
            "conn": session.conn_id,
            "data_frames": session.faults.data_frames,
            "code": session.ws.close_code,
        },
    )


async def _read_loop(session: WsSession, options: WsOptions) -> None:
    ws, loop = session.ws, asyncio.get_running_loop()
    deadline = None
    if options.subscribe_timeout_s is not None:
        deadline = loop.time() + options.subscribe_timeout_s
    while True:
        timeout = options.idle_timeout_s
        if deadline is not None and not session.started:
            remaining = deadline - loop.time()
            if remaining <= 0:
                await _server_close(session, b"no subscribe in time")
                return
            timeout = remaining if timeout is None else min(timeout, remaining)
        try:
            msg = await ws.receive(timeout=max(timeout, 0.001) if timeout else None)
        except TimeoutError:
            if deadline is not None and not session.started:
                continue
            await _server_close(session, b"idle timeout")
            return
        if msg.type is WSMsgType.TEXT:
            session.dialect.on_message(session, msg.data)
        elif msg.type is WSMsgType.PING:  # answered whatever the faults: the socket is open
            await ws.pong(msg.data)
            session.stats.pongs_sent += 1
        elif msg.type is WSMsgType.PONG:
            session.last_pong = loop.time()
        elif msg.type is not WSMsgType.BINARY:
            return  # CLOSE, CLOSING, CLOSED, ERROR


async def _server_close(session: WsSession, reason: bytes) -> None:
    session.stats.server_closes += 1
    await session.close(WSCloseCode.POLICY_VIOLATION, reason)


class RestError(Exception):
    """A venue's error answer (status + body), raised by handlers, sent by the middleware."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status} {body}")
        self.status, self.body = status, body


def parse_json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


# --------------------------------------------------------------------------- formatting


def fmt(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


_iso_cache: dict[int, str] = {}


def iso_us(ts_ms: int) -> str:
    """1618677810244 -> '2021-04-17T16:43:30.244000Z' (Coinbase: microseconds, Z)."""
    seconds, millis = divmod(ts_ms, 1000)
    prefix = _iso_cache.get(seconds)
    if prefix is None:
        if len(_iso_cache) > 4096:
            _iso_cache.clear()
        prefix = _iso_cache[seconds] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{prefix}.{millis:03d}000Z"


def query_int(query: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    """An optional integer query parameter; ValueError when present but not an integer."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    return int(raw)


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )
