"""What a failed REST request raises: the venue, the endpoint and a short cause, never a repr.

aiohttp's exception reprs run to hundreds of characters (`ClientConnectorError(ConnectionKey(
host=..., proxy_headers_hash=None, ...), ...)`); the client raises these instead, with the
cause in a few words (`common.causes.short_cause`: `refused`, `DNS failure`, `TLS`,
`timeout`; `HTTP 503` for answers), which log lines and the backfill command print and by
which repeated failures are folded. No I/O.
"""

from __future__ import annotations

from microservices.common.errors import BadMessage, TransientError


class _Failure:
    """Fields shared by both kinds of REST failure; str() is `<venue> <path>: <cause>`."""

    venue: str
    path: str
    cause: str  # short and free of symbols: failures are folded by (venue, cause)
    detail: str

    def _set(self, venue: str, path: str, cause: str, detail: str) -> str:
        self.venue, self.path, self.cause, self.detail = venue, path, cause, detail
        return f"{venue} {path}: {cause}" + (f" ({detail})" if detail else "")


class RequestFailed(TransientError, _Failure):
    """Network faults, 5xx, rate limits, open circuits: retried with backoff."""

    def __init__(self, venue: str, path: str, cause: str, detail: str = "") -> None:
        super().__init__(self._set(venue, path, cause, detail))


class RequestRejected(BadMessage, _Failure):
    """4xx, a body that is not JSON, a venue-level error code: not retried."""

    def __init__(self, venue: str, path: str, cause: str, detail: str = "") -> None:
        super().__init__(self._set(venue, path, cause, detail))


class RateLimited(RequestFailed):
    def __init__(self, venue: str, path: str, status: int, retry_after_s: float) -> None:
        super().__init__(venue, path, f"HTTP {status}", f"retry after {retry_after_s:.1f}s")
        self.status = status
        self.retry_after_s = retry_after_s


class CircuitOpen(RequestFailed):
    def __init__(self, venue: str, path: str) -> None:
        super().__init__(venue, path, "circuit open")


def failure_fields(exc: Exception) -> tuple[str, str]:
    """(endpoint, cause) of any error a REST call raises, for log fields."""
    if isinstance(exc, _Failure):
        return exc.path, exc.cause
    return "", str(exc)[:120] or type(exc).__name__
