"""A websockets client connection with a fast path for whole, plain data frames.

websockets parses every incoming frame with generator-based readers (`Protocol.parse`,
`Frame.parse`, `StreamReader.read_exact`): ~30% of the collector's CPU at 25k frames/s. Market
data is nearly all small, unfragmented, unmasked text frames, which this subclass splits
from the received bytes itself and hands to the connection's message assembler as
websockets' own parser would (`Frame(opcode, payload)`, then `recv_messages.put`). Every
other frame (ping, pong, close, a fragment, RSV bits, a masked frame, a payload above
`max_size`) is passed whole, in order, to websockets' `data_received`, so its protocol sees
only complete frames, always at a frame boundary, and keeps every rule it enforces (control
frames, close handshake, UTF-8 validity on `recv`, size limits, errors).

The handshake goes through websockets unchanged: bytes are passed on up to the end of the
HTTP response; the fast path starts once the protocol is OPEN. Anything unexpected (a frame
above `max_size`, a state other than OPEN) turns the fast path off for good and websockets
gets every later byte. Pure parsing, no I/O of its own.
"""

from __future__ import annotations

from typing import Any, Final

from websockets.asyncio.client import ClientConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import State

HEADERS_END: Final = b"\r\n\r\n"
TEXT, BINARY = Opcode.TEXT, Opcode.BINARY


class FastClientConnection(ClientConnection):
    """`connect(..., create_connection=FastClientConnection)`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending = bytearray()  # undelivered bytes: the start of an incomplete frame
        self._fast: bool | None = None  # None: handshake; True: fast path; False: off
        self._handshake_tail = b""  # last bytes seen during the handshake
        self._fragmented = False  # websockets holds the start of a fragmented message

    def data_received(self, data: bytes) -> None:
        if self._fast:
            self._frames(data)
        elif self._fast is None:
            self._handshake(data)
        else:
            super().data_received(data)

    def _handshake(self, data: bytes) -> None:
        """Pass the HTTP response on; frames after its end go to the fast path."""
        seen = self._handshake_tail + data
        end = seen.find(HEADERS_END)
        if end < 0:
            self._handshake_tail = seen[-3:]
            super().data_received(data)
            return
        cut = end + len(HEADERS_END) - len(self._handshake_tail)  # offset in `data`
        super().data_received(data[:cut])
        protocol = self.protocol
        self._fast = protocol.state is State.OPEN and not protocol.extensions
        rest = data[cut:]
        if rest:
            self.data_received(rest)

    def _frames(self, data: bytes) -> None:
        buf = self._pending
        buf += data
        size, pos, put = len(buf), 0, self.recv_messages.put
        limit = self.protocol.max_message_size
        while size - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length, at = b1 & 0x7F, pos + 2
            if length == 126:
                if size - pos < 4:
                    break
                length, at = int.from_bytes(buf[pos + 2 : pos + 4], "big"), pos + 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, at = int.from_bytes(buf[pos + 2 : pos + 10], "big"), pos + 10
            if limit is not None and length > limit:
                self._off(buf[pos:])  # websockets refuses it as it always has
                return
            end = at + length
            if end > size:
                break
            if (b0 == 0x81 or b0 == 0x82) and b1 < 0x80 and not self._fragmented:
                put(Frame(TEXT if b0 == 0x81 else BINARY, buf[at:end]))
            else:  # control frame, fragment, RSV bits, masked: websockets decides
                if b0 == 0x01 or b0 == 0x02:
                    self._fragmented = True
                elif b0 == 0x80:
                    self._fragmented = False
                super().data_received(bytes(buf[pos:end]))
                if self.protocol.state is not State.OPEN:
                    self._off(buf[end:])
                    return
            pos = end
        del buf[:pos]

    def _off(self, rest: bytearray) -> None:
        """Hand the rest of the stream to websockets from here on."""
        self._fast = False
        data = bytes(rest)
        self._pending = bytearray()
        if data:
            super().data_received(data)
