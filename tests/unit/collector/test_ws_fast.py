"""FastClientConnection receives exactly what websockets' ClientConnection receives: the same
messages in the same order and the same close, whatever the TCP chunking, for small, 16-bit
and 64-bit lengths, binary, pings, fragmented messages, a close, and a frame above max_size."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from microservices.data_collector.ws_fast import FastClientConnection

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    head = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        return bytes((head, n)) + payload
    if n < 1 << 16:
        return bytes((head, 126)) + n.to_bytes(2, "big") + payload
    return bytes((head, 127)) + n.to_bytes(8, "big") + payload


STREAM = b"".join([
    frame(1, b'{"a":1}'),
    frame(1, b"x" * 300),
    frame(9, b"ping-1"),  # the client answers with a pong
    frame(2, bytes(range(256)) * 300),  # 76,800 bytes: a 64-bit length
    frame(1, "héllo".encode()),
    frame(1, b"frag-", fin=False), frame(9, b"p2"), frame(0, b"ment", fin=False),
    frame(0, b"ed"),
    frame(1, b""),
    frame(1, b'{"b":2}'),
    frame(8, (1000).to_bytes(2, "big") + b"bye"),
])  # fmt: skip


async def serve(stream: bytes, seed: int) -> tuple[asyncio.Server, int]:
    rng = random.Random(seed)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key"))  # fmt: skip
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        data = (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n" + stream
        )
        at = 0
        while at < len(data):  # arbitrary chunks, some split inside headers and payloads
            step = rng.choice((1, 2, 3, 7, 50, 500, 5000))
            writer.write(data[at : at + step])
            await writer.drain()
            await asyncio.sleep(0)
            at += step
        try:  # the client's close frame (or its pongs before it), then the TCP close
            while b"\x88" not in await asyncio.wait_for(reader.read(4096), timeout=2):
                pass
        except (TimeoutError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def receive(cls: type[ClientConnection], stream: bytes, seed: int,
                  max_size: int = 1 << 20) -> tuple[list[Any], int | None]:  # fmt: skip
    server, port = await serve(stream, seed)
    messages: list[Any] = []
    async with server:
        ws = await connect(f"ws://127.0.0.1:{port}/", create_connection=cls, compression=None,
                           max_size=max_size)  # fmt: skip
        try:
            while True:
                messages.append(await ws.recv())
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else (exc.sent.code if exc.sent else None)
        await ws.close()
    return messages, code


@pytest.mark.parametrize("seed", range(6))
async def test_the_same_messages_and_close_as_websockets(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from microservices.data_collector import ws_fast

    built: list[Any] = []
    frame_class = vars(ws_fast)["Frame"]

    def counted(*args: Any) -> Any:
        built.append(args)
        return frame_class(*args)

    monkeypatch.setattr(ws_fast, "Frame", counted)
    reference = await receive(ClientConnection, STREAM, seed)
    assert not built
    fast = await receive(FastClientConnection, STREAM, seed)
    assert fast == reference
    assert len(built) == 6  # whole data frames took the fast path; the rest went to websockets
    messages, code = fast
    assert messages[0] == '{"a":1}' and messages[2] == bytes(range(256)) * 300
    assert messages[3] == "héllo" and messages[4] == "frag-mented" and messages[-1] == '{"b":2}'
    assert code == 1000


async def test_a_frame_above_max_size_closes_the_connection_as_websockets_does() -> None:
    stream = frame(1, b"ok") + frame(1, b"y" * 5000) + frame(1, b"never")
    reference = await receive(ClientConnection, stream, 1, max_size=4096)
    fast = await receive(FastClientConnection, stream, 1, max_size=4096)
    assert fast == reference == (["ok"], 1009)
