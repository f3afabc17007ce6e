"""One WebSocket client: subscriptions, an outgoing queue of batches and the sender loop.

The hub puts market frames on the queue; the sender writes them, applying this connection's
faults (latency, silence, malformed frames, drops) and counting only frames actually written.
What a client message means is the venue dialect's business (`exchanges/<exchange>/simulator/`).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from microservices.exchange_simulator.faults import ConnectionFaults, malform
from microservices.exchange_simulator.replay import ReplayFrame
from microservices.exchange_simulator.stats import CONTROL_KEY

if TYPE_CHECKING:
    from microservices.exchange_simulator.runtime import SimContext
    from microservices.exchange_simulator.venues.base import Dialect

logger = logging.getLogger(__name__)

CONTROL: Final = 0  # ack, pong, error: always sent, never spoiled or counted as data
DATA: Final = 1  # a synthetic market frame
REPLAY: Final = 2  # a recorded frame
CLOSE: Final = 3  # close the connection once everything before it was sent
REPLAY_HIGH_WATER: Final = 5_000  # frames queued before the replay feeder waits
Item = tuple[int, str, bytes]  # (kind, stream/topic key, frame)


class WsSession:
    """Mutable state of one connection; `run_sender()` is its only writer task."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        request: web.Request,
        ctx: SimContext,
        dialect: Dialect,
        mode: str,
        conn_id: str,
        seed: int,
    ) -> None:
        self.ws, self.request, self.ctx, self.dialect = ws, request, ctx, dialect
        self.mode = mode  # dialect-specific framing, e.g. Binance "raw" or "combined"
        self.conn_id = conn_id
        self.venue = dialect.url_venue
        self.stats = ctx.stats.venue(self.venue)
        self.subs: set[str] = set()
        self.symbols: set[str] = set()  # canonical symbols of `subs`
        self.live = False  # receives synthetic frames from the hub
        self.started = False  # first subscription seen (replay or synthetic has begun)
        self.closing = False
        self.faults = ConnectionFaults(seed)
        self.last_pong = asyncio.get_running_loop().time()
        self._pending: deque[tuple[float, list[Item]]] = deque()
        self._pending_frames = 0
        self._wake = asyncio.Event()
        self._room = asyncio.Event()  # set by the sender when the queue has room for replay
        self.replay_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ queueing

    def enqueue(self, items: list[Item]) -> None:
        if self.closing or not items:
            return
        self._pending.append((asyncio.get_running_loop().time(), items))
        self._pending_frames += len(items)
        limit = self.ctx.config.max_pending_frames
        while self._pending_frames > limit and len(self._pending) > 1:
            _, dropped = self._pending.popleft()
            self._pending_frames -= len(dropped)
            self.stats.frames_dropped_backlog += len(dropped)
        self._wake.set()

    def send_control(self, message: dict[str, Any], key: str = CONTROL_KEY) -> None:
        """Queue an ack, pong or error: sent even while the connection is silenced."""
        self.enqueue([(CONTROL, key, orjson.dumps(message))])

    def close_later(self) -> None:
        self.enqueue([(CLOSE, CONTROL_KEY, b"")])

    # ------------------------------------------------------------------ subscriptions

    def subscribe(self, keys: Iterable[str]) -> list[str]:
        """Add stream keys; start the feed on the first subscription. Returns the new keys."""
        new = [k for k in dict.fromkeys(keys) if k not in self.subs]
        self.subs.update(new)
        self._refresh_symbols()
        if not self.started:
            self.started = True
            self._begin_feed()
        elif self.live and new:
            self.enqueue(self.dialect.initial_frames(new))
        return new

    def unsubscribe(self, keys: Iterable[str]) -> None:
        self.subs.difference_update(keys)
        self._refresh_symbols()

    def _refresh_symbols(self) -> None:
        found = (self.dialect.key_symbol(k) for k in self.subs)
        self.symbols = {s for s in found if s is not None}

    def _begin_feed(self) -> None:
        frames = self.ctx.replay.for_venue(self.dialect.market_venue)
        if frames:
            self.replay_task = asyncio.create_task(self._replay(frames), name="sim.replay")
        elif self.ctx.config.synthetic:
            self.go_live()

    def go_live(self) -> None:
        self.live = True
        self.enqueue(self.dialect.initial_frames(sorted(self.subs)))

    async def _replay(self, frames: list[ReplayFrame]) -> None:
        cfg = self.ctx.config
        speed, previous = cfg.replay_speed, None
        for index, frame in enumerate(frames):
            if self.closing:
                return
            if speed and frame.ts is not None and previous is not None and frame.ts > previous:
                await asyncio.sleep((frame.ts - previous) / speed)
            previous = frame.ts if frame.ts is not None else previous
            if frame.obj is not None and self.dialect.is_control(frame.obj):
                continue  # recorded acks: this connection got its own
            key = self.dialect.replay_key(frame.obj) if frame.obj is not None else None
            if cfg.replay_filter and key not in self.subs:
                continue
            data = self.dialect.replay_frame(frame.text, frame.obj, self.mode)
            self.enqueue([(REPLAY, key or "_replay", data)])
            while self._pending_frames > REPLAY_HIGH_WATER and not self.closing:
                self._room.clear()
                await self._room.wait()
            if index % 200 == 199:
                await asyncio.sleep(0)
        if cfg.after_replay == "synthetic" and cfg.synthetic:
            self.go_live()
        elif cfg.after_replay == "close":
            self.close_later()

    # ------------------------------------------------------------------ writing

    async def run_sender(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                while not self._pending:
                    self._wake.clear()
                    await self._wake.wait()
                queued_at, batch = self._pending.popleft()
                self._pending_frames -= len(batch)
                if self._pending_frames <= REPLAY_HIGH_WATER:
                    self._room.set()
                latency_ms = self.ctx.faults.for_venue(self.venue).latency_ms
                if latency_ms:
                    delay = queued_at + latency_ms / 1000 - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                if not await self._write(batch, loop.time()):
                    return
        except ConnectionError:  # the client went away mid-write
            return

    async def _write(self, batch: list[Item], now_s: float) -> bool:
        """Write one batch; False once the connection is (being) closed."""
        ws, stats = self.ws, self.stats
        cfg = self.ctx.faults.for_venue(self.venue)
        version = self.ctx.faults.version
        conn = self.faults
        for kind, key, data in batch:
            if ws.closed or self.closing:
                return False
            if kind == CLOSE:
                await self.close(WSCloseCode.OK, b"replay finished")
                return False
            if kind == CONTROL:
                await ws.send_frame(data, WSMsgType.TEXT)
                stats.count_frame(key, data=False)
                continue
            if conn.silent(cfg, version, now_s):
                stats.frames_suppressed += 1
                continue
            if (
                cfg.depth_gap_every
                and self.dialect.is_book_diff(key, data)
                and conn.skip_book_diff(cfg)
            ):
                stats.book_diffs_skipped += 1
                continue
            opcode = WSMsgType.TEXT
            bad = conn.malformed_kind(cfg)
            if bad is not None:
                data, binary = malform(data, bad)
                opcode = WSMsgType.BINARY if binary else WSMsgType.TEXT
                stats.malformed_sent += 1
            await ws.send_frame(data, opcode)
            conn.data_frames += 1
            stats.count_frame(key, data=True)
            if kind == REPLAY:
                stats.replay_frames_sent += 1
            if conn.should_drop(cfg):
                stats.drops += 1
                await self.drop(cfg.drop_mode)
                return False
        return True

    # ------------------------------------------------------------------ closing

    async def close(self, code: int, message: bytes) -> None:
        self.closing = True
        if not self.ws.closed:
            await self.ws.close(code=code, message=message)

    async def drop(self, mode: str) -> None:
        self.closing = True
        transport = self.request.transport
        if mode == "abort" and transport is not None:
            transport.abort()
        else:
            await self.close(WSCloseCode.GOING_AWAY, b"simulated drop")

    async def run_pinger(self, interval_s: float, timeout_s: float) -> None:
        """Server pings (Binance): close when no pong arrived within `timeout_s`."""
        loop = asyncio.get_running_loop()
        while not self.ws.closed:
            await asyncio.sleep(interval_s)
            if loop.time() - self.last_pong > timeout_s:
                self.stats.server_closes += 1
                await self.close(WSCloseCode.POLICY_VIOLATION, b"pong timeout")
                return
            await self.ws.ping(str(math.floor(loop.time() * 1000)).encode())
            self.stats.pings_sent += 1
