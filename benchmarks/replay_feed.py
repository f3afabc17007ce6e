"""A low-CPU WebSocket feed for the end-to-end benchmark: pre-encoded venue frames at a rate.

The collector connects to it exactly as to a venue (its `*_WS_URL` settings point here, paths
as `exchanges.simulator_endpoints` builds them): Binance spot and USD-M combined streams
(`/binance/stream?streams=...`, `/binance_futures/stream?streams=...`), Bybit linear
(`/bybit/v5/public/linear`, symbols from its `subscribe` frames) and Coinbase (`/coinbase`,
products from its `subscribe` frame). Per symbol it sends trades and best bid/ask tickers in
the simulator's dialect (`replay_frames.py`), one record per frame, half of each.

Every frame is built once, WebSocket header included (server frames are unmasked), with
fixed-width placeholders; each tick (`--tick-ms`, 1 ms) writes the frames due on each
connection with one `transport.write`, after patching the event time (13-digit epoch ms, or
Coinbase's 27-character ISO time) and the trade ids (12 digits, a counter per symbol, so ids
stay unique and consecutive) in place. Event times are the send time of the tick.

A connection whose unsent bytes exceed `BACKLOG_BYTES` skips its frames for that tick and
counts them as dropped. `GET /_sim/stats` answers the simulator's counters
(`totals.data_frames_sent`, `totals.frames_dropped_backlog`); other HTTP requests get 404.

    python -m benchmarks.replay_feed --port 9100 --rate 25   # frames/s per symbol and venue
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from benchmarks.replay_frames import Template, templates

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
BACKLOG_BYTES = 4 << 20
MAX_REQUEST = 64 << 10


class Feed:
    """The connections and their send schedule."""

    def __init__(self, rate: float, tick_s: float) -> None:
        self.rate, self.tick_s = rate, tick_s  # frames/s per symbol per connection
        self.conns: list[Conn] = []
        self.sent = 0
        self.dropped = 0

    def stats(self) -> bytes:
        totals = {"data_frames_sent": self.sent, "frames_dropped_backlog": self.dropped,
                  "connections": len(self.conns)}  # fmt: skip
        return orjson.dumps({"totals": totals})

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            now = time.monotonic()
            wall = time.time()
            ms = b"%13d" % int(wall * 1000)
            iso = datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode()
            for conn in self.conns:
                due = int((now - conn.started) * conn.rate) - conn.due_sent
                if due > 0:
                    conn.due_sent += due
                    self._send(conn, due, ms, iso)

    def _send(self, conn: Conn, count: int, ms: bytes, iso: bytes) -> None:
        transport = conn.transport
        if transport is None or transport.is_closing():
            return
        if transport.get_write_buffer_size() > BACKLOG_BYTES:
            self.dropped += count
            return
        transport.write(conn.batch(count, ms, iso))
        self.sent += count


class Conn(asyncio.Protocol):
    """One client: HTTP upgrade, then frames out; client frames are read for subscriptions,
    pings and close."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.upgraded = False
        self.venue = ""
        self.symbols: list[str] = []
        self.templates: list[Template] = []
        self.cursor = 0
        self.ids: dict[str, int] = {}
        self.rate = 0.0
        self.started = 0.0
        self.due_sent = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self in self.feed.conns:
            self.feed.conns.remove(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded:
            self._handshake()
        if self.upgraded:
            self._client_frames()

    # ------------------------------------------------------------------ handshake

    def _handshake(self) -> None:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buf) > MAX_REQUEST:
                self._close_now()
            return
        head, self.buf = bytes(self.buf[:end]).decode("latin-1"), self.buf[end + 4 :]
        lines = head.split("\r\n")
        path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "/"
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])
        }
        key = headers.get("sec-websocket-key")
        if key is None:
            self._http(path)
            return
        accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest())
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        self.upgraded = True
        url = urlsplit(path)
        self.venue = url.path.strip("/").split("/")[0]
        streams = parse_qs(url.query).get("streams")
        if streams:  # Binance combined streams: the symbols are in the URL
            self._subscribe([s.partition("@")[0].upper() for s in streams[0].split("/")])

    def _http(self, path: str) -> None:
        assert self.transport is not None
        if path.startswith("/_sim/stats"):
            body, status = self.feed.stats(), b"200 OK"
        else:
            body, status = b'{"error":"not served by the replay feed"}', b"404 Not Found"
        self.transport.write(
            b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
        )  # fmt: skip
        self.transport.close()

    # ------------------------------------------------------------------ client frames

    def _client_frames(self) -> None:
        while True:
            frame = take_frame(self.buf)
            if frame is None:
                return
            opcode, payload = frame
            if opcode == 0x9:  # ping -> pong
                self._write_control(0xA, payload)
            elif opcode == 0x8:
                self._write_control(0x8, payload[:2])
                self._close_now()
                return
            elif opcode == 0x1:
                self._on_text(payload)

    def _on_text(self, payload: bytes) -> None:
        try:
            msg = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        if not isinstance(msg, dict):
            return
        if msg.get("op") == "subscribe":  # Bybit: topics "<name>.<SYMBOL>"
            topics = [str(a) for a in msg.get("args") or []]
            self._subscribe([t.rpartition(".")[2] for t in topics if t.startswith("publicTrade")])
        elif msg.get("type") == "subscribe":  # Coinbase
            self._subscribe([str(p) for p in msg.get("product_ids") or []])

    def _subscribe(self, symbols: list[str]) -> None:
        new = [s for s in dict.fromkeys(symbols) if s not in self.symbols]
        if not new:
            return
        self.symbols += new
        self.templates = templates(self.venue, self.symbols)
        for symbol in new:
            self.ids[symbol] = 100_000_000_000 + 1_000_000 * len(self.ids)
        if self.cursor >= len(self.templates):
            self.cursor = 0
        if not self.templates:
            return
        self.rate = self.feed.rate * len(self.symbols)
        if self not in self.feed.conns:
            self.started = time.monotonic()
            self.feed.conns.append(self)
        else:  # same schedule from now on at the new rate
            self.started = time.monotonic() - self.due_sent / self.rate

    def _write_control(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and len(payload) < 126:
            self.transport.write(bytes((0x80 | opcode, len(payload))) + payload)

    def _close_now(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # ------------------------------------------------------------------ data

    def batch(self, count: int, ms: bytes, iso: bytes) -> bytearray:
        """`count` frames from the cursor on, event times and trade ids patched."""
        out = bytearray()
        tpls, ids = self.templates, self.ids
        i, n = self.cursor, len(tpls)
        for _ in range(count):
            data, ts_offs, iso_offs, id_off, symbol = tpls[i]
            i = i + 1 if i + 1 < n else 0
            base = len(out)
            out += data
            for off in ts_offs:
                out[base + off : base + off + 13] = ms
            for off in iso_offs:
                out[base + off : base + off + 27] = iso
            if id_off >= 0:
                ids[symbol] = tid = ids[symbol] + 1
                out[base + id_off : base + id_off + 12] = b"%012d" % tid
        self.cursor = i
        return out


def take_frame(buf: bytearray) -> tuple[int, bytes] | None:
    """Remove one complete client frame from `buf`: (opcode, unmasked payload), or None."""
    if len(buf) < 2:
        return None
    opcode, length, at = buf[0] & 0x0F, buf[1] & 0x7F, 2
    if length == 126:
        if len(buf) < 4:
            return None
        length, at = int.from_bytes(buf[2:4], "big"), 4
    elif length == 127:
        if len(buf) < 10:
            return None
        length, at = int.from_bytes(buf[2:10], "big"), 10
    masked = buf[1] & 0x80
    mask = bytes(buf[at : at + 4]) if masked else b""
    at += 4 if masked else 0
    if len(buf) < at + length:
        return None
    payload = bytes(buf[at : at + length])
    del buf[: at + length]
    if masked and length:
        repeated = (mask * (length // 4 + 1))[:length]
        value = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
        payload = value.to_bytes(length, "big")
    return opcode, payload


async def serve(host: str, port: int, rate: float, tick_ms: float) -> None:
    feed = Feed(rate, tick_ms / 1000)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Conn(feed), host, port)
    async with server:
        await feed.run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True, help="frames/s per symbol per venue")
    parser.add_argument("--tick-ms", type=float, default=1.0)
    ns = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(ns.host, ns.port, ns.rate, ns.tick_ms))


if __name__ == "__main__":
    main()
