"""Generic WebSocket loop for one connection plan: connect, subscribe, receive, parse, publish.

Venue quirks live in the venue modules; this loop only knows the plan (URL and subscribe
frames), the venue's optional app-level ping, and its maximum connection age. Behaviour:
- a silence watchdog: no frame proving the feed alive (market data or a heartbeat, as the
  venue's parser decides; never a ping, pong or ack) for `silence_timeout_s` closes the
  socket and reconnects;
- reconnects use capped, jittered exponential backoff, reset after a healthy period; a venue
  refusing this IP's region (HTTP 451/403) is retried only every `geo_block_retry_s`, and a
  handshake's Retry-After is honoured; /health gets the short cause (`common.causes`);
- before the venue's lifetime limit (Binance 24 h) a new connection is opened while the old
  one keeps being read, and the old one is closed once the new one delivers: no gap; the
  parser (and its trade-id dedupe) is shared across connections, so the overlap adds nothing;
- each frame goes through `FrameSink` (`frame_sink.py`): the connection's books, else the
  venue's parser and `exchange.raw`; its counters into Prometheus and /health.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidURI, WebSocketException

from microservices.common import metrics
from microservices.common.backoff import Backoff
from microservices.common.causes import GEO_BLOCK_STATUSES, http_status, retry_delay_s, short_cause
from microservices.common.logs import SampledLogger
from microservices.common.producer import StreamProducer
from microservices.common.streams import Stream
from microservices.data_collector.book_feed import BookFeed
from microservices.data_collector.exchanges.base import Exchange, WsConnectionPlan
from microservices.data_collector.frame_sink import FrameSink
from microservices.data_collector.venue_status import VenueStatus
from microservices.data_collector.ws_fast import FastClientConnection

logger = logging.getLogger(__name__)
samples = SampledLogger(logger, interval_s=30.0)
TRANSIENT_WS_ERRORS = (OSError, TimeoutError, WebSocketException, InvalidHandshake, InvalidURI)
MAX_FRAME_BYTES = 1 << 22
PING_TIMEOUT_S = 20.0  # protocol pings unanswered this long close the connection
EndKind = Literal["stop", "rotate", "silence", "closed", "error", "blocked"]


@dataclass(frozen=True, slots=True)
class BridgeParams:
    backoff: Backoff
    healthy_reset_s: float = 60.0
    silence_timeout_s: float = 30.0  # the venue's (WS_SILENCE_TIMEOUT_S or its override)
    open_timeout_s: float = 10.0
    rotate_after_s: float | None = None  # min(venue limit, setting); None disables rotation
    ping_interval_s: float = 20.0  # protocol pings; app-level pings at least this often
    geo_block_retry_s: float = 600.0  # fixed wait after HTTP 451/403 at the handshake
    latency_types: frozenset[str] = frozenset()  # record types whose latency is measured


class Ended(NamedTuple):
    """Why a connection ended: `kind` labels metrics, `cause` is the short text for /health."""

    kind: EndKind
    cause: str = ""
    error: BaseException | None = None  # a failure to open, for Retry-After and geo-blocks


def failed(exc: BaseException) -> Ended:
    kind: EndKind = "blocked" if http_status(exc) in GEO_BLOCK_STATUSES else "error"
    return Ended(kind, short_cause(exc), exc)


class WsConnectionRunner(FrameSink):
    """Keeps one plan's connection alive until `stop` is set (each frame: `FrameSink`)."""

    def __init__(
        self,
        exchange: Exchange,
        plan: WsConnectionPlan,
        producer: StreamProducer,
        raw: Stream[Any],
        status: VenueStatus,
        params: BridgeParams,
        books: BookFeed | None = None,
    ) -> None:
        super().__init__(exchange, plan, producer, raw, status, params.latency_types, books)
        self.params = params
        self.attempt = 0
        self.ws: ClientConnection | None = None  # the open socket, for book resubscriptions

    # ------------------------------------------------------------------ main loop

    async def run(self, stop: asyncio.Event) -> None:
        ws: ClientConnection | None = None
        while not stop.is_set():
            ended = Ended("error")
            try:
                if ws is None:
                    ws = await self._open()
                connected_at = time.monotonic()
                ended = await self._serve(ws, stop)
                if ended.kind == "rotate":
                    ws = await self._rotate(ws, stop)
                    continue
                self._mark_healthy_if_long(connected_at)
            except TRANSIENT_WS_ERRORS as exc:
                ended = failed(exc)
                self._log_failure(exc, ended.cause)
            finally:
                if ws is not None and ended.kind != "rotate":
                    await self._close(ws)
                    ws = None
            if stop.is_set():
                break
            await self._wait_before_reconnect(ended, stop)
        if ws is not None:  # stopped right after a rotation handed over a fresh socket
            await self._close(ws)
        self.sync_stats()

    async def _open(self) -> ClientConnection:
        ws = await connect(
            await self.exchange.resolve_ws_url(self.plan),  # KuCoin: a URL per connection
            open_timeout=self.params.open_timeout_s,
            max_size=MAX_FRAME_BYTES,
            compression=None,
            create_connection=FastClientConnection,  # whole data frames parsed without generators
            ping_interval=self.params.ping_interval_s,
            ping_timeout=PING_TIMEOUT_S,
        )
        if self.exchange.ws_welcome:
            await self._await_welcome(ws, self.exchange.ws_welcome)
        for message in self.plan.subscribe:
            await ws.send(message)
        if self.books is not None:
            self.books.reconnected()
        self.ws = ws
        self.status.connected(self.plan.label)
        logger.info("ws.connected", extra={"exchange": self.exchange.name, "conn": self.plan.label})
        return ws

    async def _await_welcome(self, ws: ClientConnection, welcome: str) -> None:
        """Read (and handle) frames until the venue's greeting; the socket is closed when it
        does not come within the open timeout."""
        try:
            async with asyncio.timeout(self.params.open_timeout_s):
                while True:
                    frame = await ws.recv()
                    text = frame if isinstance(frame, str) else frame.decode(errors="replace")
                    if welcome in text:
                        return
                    self.handle(frame)
        except BaseException:
            await self._close(ws, still_connected=True)
            raise

    async def _serve(self, ws: ClientConnection, stop: asyncio.Event) -> Ended:
        """Receive until closed, silent, rotation due, or stop; says which."""
        pinger = self._start_pinger(ws)
        deadline = self._rotation_deadline()
        silence = self.params.silence_timeout_s
        clock = asyncio.get_running_loop().time  # the clock of asyncio.timeout_at
        last = clock()
        try:
            while not stop.is_set():
                due = last + silence if deadline is None else min(last + silence, deadline)
                try:
                    # One timeout per silence period, not per frame (a timeout context costs
                    # ~2 us, a fifth of a frame): when it fires with frames received since,
                    # the loop waits again from the last one. Cancelling recv() is safe.
                    async with asyncio.timeout_at(due):
                        while not stop.is_set():
                            if self.handle(await ws.recv()):  # pings and acks do not count
                                last = clock()
                            if self.parser.outbox:  # answers the venue requires (Deribit)
                                await self._answer(ws)
                    return Ended("stop")
                except TimeoutError:
                    now = clock()
                    if deadline is not None and now >= deadline:
                        return Ended("rotate")
                    if now - last >= silence:
                        logger.warning(
                            "ws.silent", extra={"conn": self.plan.label, "after_s": silence}
                        )
                        return Ended("silence", f"silent {silence:g}s")
            return Ended("stop")
        except websockets.ConnectionClosed as exc:
            cause = short_cause(exc)
            logger.warning(
                "ws.closed",
                extra={"conn": self.plan.label, "code": exc.rcvd.code if exc.rcvd else None,
                       "reason": cause},
            )  # fmt: skip
            return Ended("closed", cause)
        finally:
            if pinger is not None:
                pinger.cancel()

    async def _rotate(self, old: ClientConnection, stop: asyncio.Event) -> ClientConnection:
        """Open the replacement while still reading the old socket; switch on its first live
        frame (data, not an ack)."""
        pump = asyncio.create_task(self._pump(old), name=f"{self.plan.label}-rotate-pump")
        new: ClientConnection | None = None
        try:
            new = await self._open()
            async with asyncio.timeout(self.params.silence_timeout_s):
                while not self.handle(await new.recv()):
                    pass
        except BaseException:
            pump.cancel()
            if new is not None:  # it never delivered: drop it too (run() closes the old one)
                await self._close(new, still_connected=True)
            raise
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
        await self._close(old, still_connected=True)
        metrics.WS_RECONNECTS.labels(self.exchange.name, "rotate").inc()
        logger.info("ws.rotated", extra={"conn": self.plan.label})
        return new

    async def _pump(self, ws: ClientConnection) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for frame in ws:
                self.handle(frame)

    # ------------------------------------------------------------------ helpers

    def _start_pinger(self, ws: ClientConnection) -> asyncio.Task[None] | None:
        message = self.exchange.ping_message()
        interval = self.exchange.ping_interval_s
        if message is None or interval is None:
            return None
        interval = min(interval, self.params.ping_interval_s)
        return asyncio.create_task(self._ping_loop(ws, message, interval))

    async def _ping_loop(self, ws: ClientConnection, message: str, interval: float) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                await asyncio.sleep(interval)
                await ws.send(message)

    def _rotation_deadline(self) -> float | None:
        if self.params.rotate_after_s is None:
            return None
        return asyncio.get_running_loop().time() + self.params.rotate_after_s

    def _mark_healthy_if_long(self, connected_at: float) -> None:
        if time.monotonic() - connected_at >= self.params.healthy_reset_s:
            self.attempt = 0

    def _log_failure(self, exc: BaseException, cause: str) -> None:
        samples.warning(
            f"{self.plan.label}:connect", "ws.connect_failed", conn=self.plan.label, reason=cause,
            error=type(exc).__name__,  # the cause says it; reprs of handshake errors are long
        )  # fmt: skip

    async def _answer(self, ws: ClientConnection) -> None:
        """Send (and clear) the frames the parser queued in answer to the venue."""
        outbox = self.parser.outbox
        frames = tuple(outbox)
        outbox.clear()
        for frame in frames:
            await ws.send(frame)

    async def send(self, frames: tuple[str, ...]) -> bool:
        """Send frames on the open socket (a book resubscription); False when none is open."""
        ws = self.ws
        if ws is None:
            return False
        with contextlib.suppress(*TRANSIENT_WS_ERRORS):
            for frame in frames:
                await ws.send(frame)
            return True
        return False

    async def _close(self, ws: ClientConnection, still_connected: bool = False) -> None:
        """Close a socket; `still_connected` when a rotation already opened its successor."""
        if ws is self.ws:
            self.ws = None
        if not still_connected:
            self.status.disconnected(self.plan.label)
        with contextlib.suppress(*TRANSIENT_WS_ERRORS):
            async with asyncio.timeout(2.0):
                await ws.close()

    async def _wait_before_reconnect(self, ended: Ended, stop: asyncio.Event) -> None:
        backoff = self.params.backoff.delay(self.attempt)
        delay = retry_delay_s(ended.error, backoff, self.params.geo_block_retry_s)
        self.attempt += 1
        metrics.WS_RECONNECTS.labels(self.exchange.name, ended.kind).inc()
        self.status.reconnecting(self.plan.label, ended.cause or ended.kind, delay)
        logger.info(
            "ws.reconnect_scheduled",
            extra={"conn": self.plan.label, "cause": ended.kind, "reason": ended.cause,
                   "delay_s": round(delay, 2)},
        )  # fmt: skip
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
