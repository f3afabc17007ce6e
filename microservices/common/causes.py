"""Short causes of connection failures ("DNS failure", "HTTP 451 geo-block", "timeout") for
/health and logs, and how long to wait before the next attempt.

Pure functions over the exceptions that aiohttp, websockets, ssl and the OS raise; shared by the
WS bridge and the REST client. No I/O; imports only exception types.
"""

from __future__ import annotations

import errno
import re
import socket
import ssl
from collections.abc import Iterator, Mapping
from typing import Final

import aiohttp
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
    PayloadTooBig,
    ProtocolError,
)

# Venues answer a region they refuse to serve with 451 (Binance) or 403 (Bybit, CloudFront);
# a 403 can also be a temporary IP ban. Either way, only a slow retry is polite.
GEO_BLOCK_STATUSES: Final = frozenset({403, 451})
ERRNO_CAUSES: Final[dict[int, str]] = {
    errno.ECONNREFUSED: "refused",
    errno.ECONNRESET: "reset",
    errno.ECONNABORTED: "aborted",
    errno.ETIMEDOUT: "timeout",
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTUNREACH: "host unreachable",
    errno.EPIPE: "broken pipe",
}
# asyncio's create_connection reports several failed addresses as one plain OSError
_ERRNO_IN_TEXT: Final = re.compile(r"\[Errno (\d+)\]")
MAX_CHAIN: Final = 5
MAX_REASON_CHARS: Final = 40


def short_cause(exc: BaseException) -> str:
    """A few words naming what failed: `DNS failure`, `refused`, `TLS`, `timeout`, `429`,
    `HTTP 451 geo-block`, `closed 1008 pong timeout`, ... Looks through `__cause__` and
    `__context__` (a wrapped error keeps its root cause); else the exception's class name."""
    for err in _chain(exc):
        cause = _cause_of(err)
        if cause:
            return cause
    return type(exc).__name__


def http_status(exc: BaseException) -> int | None:
    """The HTTP status a handshake or request was answered with, if any (also when wrapped)."""
    for err in _chain(exc):
        status = _status_of(err)
        if status is not None:
            return status
    return None


def retry_after_s(exc: BaseException) -> float | None:
    """The server's `Retry-After` in seconds (a number of seconds only), if it sent one."""
    for err in _chain(exc):
        own = getattr(err, "retry_after_s", None)  # a client's own RateLimited-style error
        if isinstance(own, int | float) and not isinstance(own, bool):
            return float(own)
        headers = _headers_of(err)
        value = headers.get("Retry-After") if headers is not None else None
        if value is not None and value.strip().isdigit():
            return float(value.strip())
    return None


def retry_delay_s(exc: BaseException | None, backoff_s: float, blocked_s: float) -> float:
    """Seconds to wait before the next attempt: `blocked_s` (a long fixed wait) when the venue
    refuses this IP's region (HTTP 451/403), at least the server's Retry-After when it sent
    one (429/418), else the caller's `backoff_s`."""
    if exc is None:
        return backoff_s
    if http_status(exc) in GEO_BLOCK_STATUSES:
        return blocked_s
    retry = retry_after_s(exc)
    return backoff_s if retry is None else max(backoff_s, retry)


# ---------------------------------------------------------------------------- helpers


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < MAX_CHAIN:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _status_of(err: BaseException) -> int | None:
    if isinstance(err, InvalidStatus):
        return int(err.response.status_code)
    if isinstance(err, aiohttp.ContentTypeError):
        return None  # a 200 with the wrong content type: not a status problem
    status = getattr(err, "status", None)
    if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599:
        return status
    return None


def _headers_of(err: BaseException) -> Mapping[str, str] | None:
    if isinstance(err, InvalidStatus):
        return err.response.headers
    if isinstance(err, aiohttp.ClientResponseError):
        return err.headers
    return None


def _status_cause(status: int) -> str:
    if status in GEO_BLOCK_STATUSES:
        return f"HTTP {status} geo-block"
    if status == 429:
        return "429"
    if status == 418:
        return "418 IP ban"
    return f"HTTP {status}"


def _cause_of(err: BaseException) -> str | None:
    """The cause named by this exception alone, or None to look at what it wraps."""
    status = _status_of(err)
    if status is not None:
        return _status_cause(status)
    if isinstance(err, ConnectionClosed):
        return _closed_cause(err)
    if isinstance(err, aiohttp.ClientConnectorDNSError | socket.gaierror):
        return "DNS failure"
    if isinstance(err, ssl.SSLCertVerificationError):
        return "TLS certificate"
    if isinstance(err, ssl.SSLError | aiohttp.ClientSSLError):
        return "TLS"
    if isinstance(err, aiohttp.ClientConnectorError):
        return _cause_of(err.os_error)
    return _library_cause(err) or _os_cause(err)


def _library_cause(err: BaseException) -> str | None:
    if isinstance(err, InvalidURI | aiohttp.InvalidURL):
        return "bad URL"
    if isinstance(err, PayloadTooBig):
        return "frame too big"
    if isinstance(err, ProtocolError):
        return "protocol error"
    if isinstance(err, InvalidHandshake):
        return "bad handshake"
    if isinstance(err, aiohttp.ServerDisconnectedError):
        return "disconnected"
    if isinstance(err, aiohttp.ClientPayloadError):
        return "bad payload"
    if isinstance(err, aiohttp.ContentTypeError):
        return "bad content type"
    return None


def _os_cause(err: BaseException) -> str | None:
    if isinstance(err, TimeoutError):  # asyncio.TimeoutError and aiohttp's timeouts too
        return "timeout"
    if isinstance(err, ConnectionRefusedError):
        return "refused"
    if isinstance(err, ConnectionResetError):
        return "reset"
    if isinstance(err, OSError):
        code = err.errno
        if code is None:
            match = _ERRNO_IN_TEXT.search(str(err))
            code = int(match.group(1)) if match else None
        if code is not None:
            return ERRNO_CAUSES.get(code, f"errno {code}")
    return None


def _closed_cause(err: ConnectionClosed) -> str:
    """`closed 1008 pong timeout` when the peer sent a close frame; else our own reason for
    closing (`keepalive ping timeout`) or `connection lost`."""
    if err.rcvd is None:
        if err.sent is not None and err.sent.reason:
            return err.sent.reason[:MAX_REASON_CHARS]
        return "connection lost"
    reason = err.rcvd.reason[:MAX_REASON_CHARS].strip()
    return f"closed {err.rcvd.code} {reason}".strip()
