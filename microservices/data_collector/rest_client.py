"""Polite REST client: request-weight budget, Retry-After windows, backoff, circuit breakers.

Rules that keep an IP from ever being banned:
- a per-venue sliding one-minute weight budget (a share of the venue's published limit), and a
  pause until the next minute when Binance's `X-MBX-USED-WEIGHT-1M` says we are close to it;
- after a 429/418 (or a 403 "too frequent" block, or a 451 geo-block) nothing is sent to that
  host until the `Retry-After` window has passed: callers wait, they do not retry inside it.
  The window belongs to the REST host, not the venue id: venues that share one base URL
  (Bybit linear and spot, OKX swaps and spot, Bitget futures and spot: one `UrlVenue` of
  their package) are limited by the exchange per IP and host, so a 429 on one pauses both;
- one request in flight per host: concurrent callers (polling, history sync) queue, so no
  request is already on its way when a 429 opens a window (the venue counts those too);
- 5xx, timeouts and connection errors are retried with capped jittered backoff;
- a circuit breaker per endpoint opens after N consecutive failures and lets one probe through
  after `reset_s` (half-open).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from microservices.common import metrics
from microservices.common.backoff import Backoff
from microservices.common.causes import short_cause
from microservices.common.errors import BadMessage, TransientError
from microservices.data_collector.exchanges import REGISTRY
from microservices.data_collector.exchanges.base import Exchange, RestRequest
from microservices.data_collector.rest_errors import (
    CircuitOpen,
    RateLimited,
    RequestFailed,
    RequestRejected,
)

__all__ = ["CircuitOpen", "RateLimited", "RestClient", "rest_timeout"]

logger = logging.getLogger(__name__)
BUDGET_SHARE = 0.5  # use at most half of a venue's published weight limit
# Default waits when a refusal carries no Retry-After. 451 (and CloudFront's 403) is a
# geo-block of this IP's region: it will not lift soon, so the venue is only asked again
# every ten minutes, never hammered.
DEFAULT_RETRY_AFTER_S = {429: 60.0, 418: 120.0, 403: 300.0, 451: 600.0}
USER_AGENT = "cross-exchange-intelligence/0.1 (+public market data)"


def rest_timeout(settings: Any) -> aiohttp.ClientTimeout:
    """The session-wide default timeout (every request also passes its own)."""
    return aiohttp.ClientTimeout(total=settings.rest_timeout_s)


@dataclass(slots=True)
class Circuit:
    failures: int = 0
    open_until: float = 0.0


@dataclass(slots=True)
class VenueBudget:
    """A venue's one-minute weight budget (what it spent, and when)."""

    limit: int
    used: deque[tuple[float, int]] = field(default_factory=deque)

    def spent(self, now: float) -> int:
        while self.used and now - self.used[0][0] >= 60.0:
            self.used.popleft()
        return sum(w for _, w in self.used)


class RestClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout_s: float = 10.0,
        circuit_failures: int = 5,
        circuit_reset_s: float = 30.0,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._circuit_failures = circuit_failures
        self._circuit_reset_s = circuit_reset_s
        self._backoff = backoff or Backoff(base_s=1.0, cap_s=30.0)
        self._clock = clock
        self._sleep = sleep
        self._budgets: dict[str, VenueBudget] = {}
        self._blocked_until: dict[str, float] = {}  # host key -> end of its Retry-After window
        self._circuits: dict[tuple[str, str], Circuit] = {}
        self._in_flight: dict[str, asyncio.Lock] = {}  # host key -> its one request in flight

    # ------------------------------------------------------------------ public

    async def get_json(self, exchange: Exchange, request: RestRequest, attempts: int = 4) -> Any:
        """GET with retries on transient faults; BadMessage is not retried."""
        for attempt in range(attempts):
            try:
                return await self.get_once(exchange, request)
            except (RateLimited, CircuitOpen):
                if attempt == attempts - 1:
                    raise
            except TransientError:
                if attempt == attempts - 1:
                    raise
                await self._sleep(self._backoff.delay(attempt))
        raise TransientError("unreachable")  # pragma: no cover

    async def get_once(self, exchange: Exchange, request: RestRequest) -> Any:
        circuit = self._circuit(exchange.name, request.path)
        now = self._clock()
        if circuit.open_until > now:
            raise CircuitOpen(exchange.name, request.path)
        lock = self._in_flight.setdefault(host_key(exchange.name), asyncio.Lock())
        try:
            async with lock:  # bounded: _send has a timeout
                await self._wait_for_budget(exchange, request.weight)
                payload = await self._send(exchange, request)
        except (TransientError, BadMessage):
            self._fail(exchange.name, request.path, circuit)
            raise
        circuit.failures = 0
        metrics.REST_CIRCUIT_OPEN.labels(exchange.name, request.path).set(0)
        return payload

    def venue_health(self, venue: str) -> dict[str, float | int]:
        """For /health and the market fallback: seconds left in the venue's Retry-After
        window (a 429/418/403/451) and how many of its endpoints have an open circuit
        (repeated 5xx, timeouts, refusals)."""
        now = self._clock()
        open_circuits = sum(
            1 for (name, _), circuit in self._circuits.items()
            if name == venue and circuit.open_until > now
        )  # fmt: skip
        return {"blocked_s": round(self.blocked_for(venue), 1), "open_circuits": open_circuits}

    def blocked_for(self, venue: str) -> float:
        """Seconds left in the Retry-After window of the venue's REST host (0 when free)."""
        until = self._blocked_until.get(host_key(venue), 0.0)
        return max(0.0, until - self._clock())

    def block(self, venue: str, seconds: float) -> None:
        """Send nothing to `venue`'s REST host for `seconds` (a window only ever grows)."""
        key = host_key(venue)
        self._blocked_until[key] = max(self._blocked_until.get(key, 0.0), self._clock() + seconds)

    # ------------------------------------------------------------------ internals

    def _budget(self, exchange: Exchange) -> VenueBudget:
        budget = self._budgets.get(exchange.name)
        if budget is None:
            limit = max(1, int(exchange.rest_weight_per_minute * BUDGET_SHARE))
            budget = self._budgets[exchange.name] = VenueBudget(limit=limit)
        return budget

    def _circuit(self, venue: str, path: str) -> Circuit:
        return self._circuits.setdefault((venue, path), Circuit())

    async def _wait_for_budget(self, exchange: Exchange, weight: int) -> None:
        budget = self._budget(exchange)
        while True:
            now = self._clock()
            blocked = self.blocked_for(exchange.name)
            if blocked > 0:
                await self._sleep(blocked)
                continue
            if budget.spent(now) + weight <= budget.limit or not budget.used:
                budget.used.append((now, weight))
                return
            await self._sleep(max(0.05, 60.0 - (now - budget.used[0][0])))

    async def _send(self, exchange: Exchange, request: RestRequest) -> Any:
        url = exchange.rest_url + request.path
        try:
            async with self._session.get(
                url,
                params=request.params,
                timeout=self._timeout,
                headers={"User-Agent": USER_AGENT},
            ) as resp:
                body = await resp.read()
                self._account(exchange, resp)
                self._check_status(exchange, request, resp.status, resp.headers, body)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            metrics.REST_REQUESTS.labels(exchange.name, request.path, "error").inc()
            raise RequestFailed(exchange.name, request.path, short_cause(exc)) from exc
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise RequestRejected(exchange.name, request.path, "body is not JSON") from exc
        try:
            exchange.check_rest_payload(payload)
        except BadMessage as exc:  # a venue error code in a 200 answer (Bybit retCode)
            raise RequestRejected(exchange.name, request.path, "venue error", str(exc)) from exc
        return payload

    def _account(self, exchange: Exchange, resp: aiohttp.ClientResponse) -> None:
        used = resp.headers.get("X-MBX-USED-WEIGHT-1M")
        if used is None or not used.isdigit():
            return
        if int(used) >= 0.9 * exchange.rest_weight_per_minute:
            self.block(exchange.name, 60.0 - (time.time() % 60.0))
            logger.warning("rest.weight_high", extra={"exchange": exchange.name, "used": used})

    def _check_status(
        self, exchange: Exchange, request: RestRequest, status: int, headers: Any, body: bytes
    ) -> None:
        metrics.REST_REQUESTS.labels(exchange.name, request.path, str(status)).inc()
        if status == 200:
            return
        if status in DEFAULT_RETRY_AFTER_S:
            wait = _retry_after(headers.get("Retry-After"), DEFAULT_RETRY_AFTER_S[status])
            self.block(exchange.name, wait)
            metrics.REST_RATE_LIMITED.labels(exchange.name, str(status)).inc()
            logger.warning(
                "rest.rate_limited",
                extra={"exchange": exchange.name, "status": status, "retry_after_s": wait},
            )
            raise RateLimited(exchange.name, request.path, status, wait)
        if status >= 500:
            raise RequestFailed(exchange.name, request.path, f"HTTP {status}")
        detail = body[:120].decode("utf-8", "replace")
        raise RequestRejected(exchange.name, request.path, f"HTTP {status}", detail)

    def _fail(self, venue: str, path: str, circuit: Circuit) -> None:
        circuit.failures += 1
        if circuit.failures >= self._circuit_failures:
            circuit.open_until = self._clock() + self._circuit_reset_s
            circuit.failures = self._circuit_failures - 1  # half-open: one probe after reset
            metrics.REST_CIRCUIT_OPEN.labels(venue, path).set(1)
            logger.warning("rest.circuit_open", extra={"exchange": venue, "path": path})


def host_key(venue: str) -> str:
    """The REST host `venue` shares with its package's other venues: its `UrlVenue` name
    (one base URL setting, unique in the registry); an unregistered venue is its own."""
    spec = REGISTRY.venues().get(venue)
    return venue if spec is None else spec.url_venue


def _retry_after(value: str | None, default: float) -> float:
    if value is None:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        return default
