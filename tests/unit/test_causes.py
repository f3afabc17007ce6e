"""short_cause / retry_delay_s: the few words /health shows per venue, from constructed
exceptions as aiohttp, websockets, ssl and the OS raise them."""

from __future__ import annotations

import errno
import socket
import ssl
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from websockets.datastructures import Headers
from websockets.exceptions import (
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidMessage,
    InvalidStatus,
    InvalidURI,
)
from websockets.frames import Close
from websockets.http11 import Response

from microservices.common.causes import http_status, retry_after_s, retry_delay_s, short_cause
from microservices.common.errors import TransientError


def ws_status(status: int, **headers: str) -> InvalidStatus:
    return InvalidStatus(Response(status, "", Headers(headers)))


def http_error(status: int, **headers: str) -> aiohttp.ClientResponseError:
    proxy = CIMultiDictProxy(CIMultiDict(headers))
    return aiohttp.ClientResponseError(None, (), status=status, headers=proxy)  # type: ignore[arg-type]


def connector(cls: Any, error: Exception) -> Any:
    """aiohttp's connector errors as its connector raises them (no connection key here)."""
    return cls(None, error)


def wrapped(inner: BaseException) -> TransientError:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise TransientError("request failed") from exc
    except TransientError as outer:
        return outer


class RateLimited(TransientError):
    """Like the REST client's own error: a status and a Retry-After it already parsed."""

    def __init__(self, status: int, retry_after_s: float) -> None:
        super().__init__(f"answered {status}")
        self.status = status
        self.retry_after_s = retry_after_s


MULTIPLE = (
    "Multiple exceptions: [Errno 111] Connect call failed ('::1', 9), "
    "[Errno 111] Connect call failed ('127.0.0.1', 9)"
)
DNS = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
CASES: list[tuple[str, BaseException]] = [
    ("DNS failure", DNS),
    ("DNS failure", connector(aiohttp.ClientConnectorDNSError, DNS)),
    ("refused", ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed")),
    ("refused", connector(aiohttp.ClientConnectorError, ConnectionRefusedError(111, "x"))),
    ("refused", OSError(MULTIPLE)),  # asyncio: every address of the host refused
    ("reset", ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")),
    ("network unreachable", OSError(errno.ENETUNREACH, "Network is unreachable")),
    ("host unreachable", OSError(errno.EHOSTUNREACH, "No route to host")),
    ("TLS", ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")),
    ("TLS certificate", ssl.SSLCertVerificationError(1, "certificate verify failed")),
    ("TLS certificate", connector(aiohttp.ClientConnectorCertificateError, ssl.CertificateError())),
    ("timeout", TimeoutError()),
    ("timeout", aiohttp.ServerTimeoutError("read timed out")),
    ("timeout", aiohttp.ConnectionTimeoutError("connect timed out")),
    ("HTTP 451 geo-block", ws_status(451)),
    ("HTTP 403 geo-block", ws_status(403)),
    ("HTTP 451 geo-block", http_error(451)),
    ("429", ws_status(429, **{"Retry-After": "30"})),
    ("429", http_error(429)),
    ("418 IP ban", http_error(418)),
    ("HTTP 503", ws_status(503)),
    ("HTTP 502", aiohttp.WSServerHandshakeError(None, (), status=502)),  # type: ignore[arg-type]
    ("closed 1008 pong timeout", ConnectionClosedError(Close(1008, "pong timeout"), None)),
    ("closed 1001", ConnectionClosedOK(Close(1001, ""), Close(1001, ""), True)),
    ("connection lost", ConnectionClosedError(None, None)),
    ("keepalive ping timeout", ConnectionClosedError(None, Close(1011, "keepalive ping timeout"))),
    ("bad URL", InvalidURI("http://x", "scheme isn't ws or wss")),
    ("bad handshake", InvalidMessage("did not receive a valid HTTP response")),
    ("disconnected", aiohttp.ServerDisconnectedError()),
    ("bad content type", aiohttp.ContentTypeError(None, (), status=200)),  # type: ignore[arg-type]
    ("errno 28", OSError(28, "No space left on device")),
    ("ValueError", ValueError("something else")),
]


@pytest.mark.parametrize(
    ("expected", "exc"), CASES, ids=[f"{i}-{c[0]}" for i, c in enumerate(CASES)]
)
def test_short_cause(expected: str, exc: BaseException) -> None:
    assert short_cause(exc) == expected


@pytest.mark.parametrize(
    ("expected", "inner"),
    [("DNS failure", DNS), ("HTTP 451 geo-block", http_error(451)), ("timeout", TimeoutError())],
)
def test_a_wrapped_error_reports_its_root_cause(expected: str, inner: BaseException) -> None:
    assert short_cause(wrapped(inner)) == expected


def test_a_rate_limit_error_of_our_own_reports_its_status() -> None:
    assert short_cause(RateLimited(429, 12.0)) == "429"
    assert http_status(RateLimited(429, 12.0)) == 429
    assert retry_after_s(RateLimited(429, 12.0)) == 12.0


def test_http_status_and_retry_after() -> None:
    assert http_status(ws_status(451)) == 451
    assert http_status(wrapped(http_error(403))) == 403
    assert http_status(DNS) is None
    assert retry_after_s(ws_status(429, **{"Retry-After": "30"})) == 30.0
    assert retry_after_s(http_error(418, **{"Retry-After": "7200"})) == 7200.0
    http_date = "Wed, 21 Oct 2015 07:28:00 GMT"  # dates are not honoured: the backoff applies
    assert retry_after_s(http_error(429, **{"Retry-After": http_date})) is None
    assert retry_after_s(http_error(429)) is None


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (None, 4.0),  # e.g. a silent socket: the plain backoff
        (DNS, 4.0),
        (ws_status(451), 600.0),  # geo-block: the long fixed wait, never the short backoff
        (http_error(403), 600.0),
        (ws_status(429, **{"Retry-After": "30"}), 30.0),  # the server's window wins...
        (ws_status(429, **{"Retry-After": "1"}), 4.0),  # ...but never shortens the backoff
        (ws_status(429), 4.0),
    ],
)
def test_retry_delay(exc: Any, expected: float) -> None:
    assert retry_delay_s(exc, backoff_s=4.0, blocked_s=600.0) == expected
