"""One target's delivery: filter, rate-limit, POST, retry (capped jittered backoff, or the
receiver's Retry-After), count. A stop while waiting or sending raises `DeliveryInterrupted`:
the entry stays pending in the target's consumer group and is sent after a restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from microservices.common import metrics
from microservices.common.backoff import Backoff
from microservices.common.lifecycle import cancel_on_stop
from microservices.notify.delivery import Outcome, TokenBucket, classify, wanted
from microservices.notify.formats import Alert, body_for
from microservices.notify.targets import AlertTarget

logger = logging.getLogger(__name__)
USER_AGENT = "cross-exchange-intelligence-notifier"
MAX_ANSWER_BYTES = 65_536


class DeliveryInterrupted(BaseException):
    """Stop was set before the alert was delivered (a BaseException: handlers' generic
    `except Exception` must not swallow it)."""


@dataclass(slots=True)
class TargetStats:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    dropped: int = 0
    filtered: int = 0
    state: str = "idle"  # idle, ok, retrying, refused
    last_error: str = ""
    last_sent_ms: int | None = None

    def public(self) -> dict[str, Any]:
        return {
            "state": self.state, "sent": self.sent, "failed": self.failed,
            "retried": self.retried, "dropped": self.dropped, "filtered": self.filtered,
            "last_error": self.last_error, "last_sent_ms": self.last_sent_ms,
        }  # fmt: skip


class TargetWorker:
    """Delivers the alerts of one target; shared by its consumers (one per stream)."""

    def __init__(
        self,
        target: AlertTarget,
        session: aiohttp.ClientSession,
        *,
        backoff: Backoff,
        timeout_s: float,
        max_retry_after_s: float,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.target = target
        self.stats = TargetStats()
        self._session = session
        self._backoff = backoff
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._max_retry_after_s = max_retry_after_s
        self._clock, self._wall_ms = clock, wall_ms
        self._bucket = TokenBucket(target.rate_per_min / 60.0, target.burst, clock())

    async def handle(self, alerts: list[Alert], stop: asyncio.Event) -> None:
        for alert in alerts:
            if not wanted(self.target, alert):
                self.stats.filtered += 1
                metrics.NOTIFY_FILTERED.labels(self.target.name).inc()
                continue
            await self.deliver(alert, stop)

    def drop_unreadable(self, count: int) -> None:
        """Entries of the stream that failed to decode (dead-lettered by the consumer)."""
        self.stats.dropped += count
        metrics.NOTIFY_DROPPED.labels(self.target.name, "bad_entry").inc(count)

    async def deliver(self, alert: Alert, stop: asyncio.Event) -> None:
        """Until delivered or refused; retries forever otherwise (at least once)."""
        name = self.target.name
        attempt = 0
        while True:
            await _pause(self._bucket.take(self._clock()), stop)
            outcome = await self._attempt(alert, stop)
            if outcome.kind == "ok":
                self._delivered(alert, attempt)
                return
            self.stats.failed += 1
            self.stats.last_error = outcome.cause
            metrics.NOTIFY_FAILED.labels(name, outcome.cause).inc()
            if outcome.kind == "refused":
                self._refused(alert, outcome)
                return
            delay = self._delay(outcome, attempt)
            self.stats.state = "retrying"
            logger.warning(
                "notify.retry",
                extra={"target": name, "key": alert.key, "cause": outcome.cause,
                       "attempt": attempt + 1, "delay_s": round(delay, 3)},
            )  # fmt: skip
            await _pause(delay, stop)
            attempt += 1
            self.stats.retried += 1
            metrics.NOTIFY_RETRIED.labels(name).inc()

    def _delay(self, outcome: Outcome, attempt: int) -> float:
        if outcome.retry_after_s is not None:
            return min(outcome.retry_after_s, self._max_retry_after_s)
        return self._backoff.delay(attempt)

    def _delivered(self, alert: Alert, retries: int) -> None:
        self.stats.sent += 1
        self.stats.state = "ok"
        self.stats.last_sent_ms = self._wall_ms()
        metrics.NOTIFY_SENT.labels(self.target.name).inc()
        logger.info(
            "notify.sent",
            extra={"target": self.target.name, "key": alert.key, "type": alert.type,
                   "retries": retries},
        )  # fmt: skip

    def _refused(self, alert: Alert, outcome: Outcome) -> None:
        self.stats.dropped += 1
        self.stats.state = "refused"
        metrics.NOTIFY_DROPPED.labels(self.target.name, outcome.cause).inc()
        logger.error(
            "notify.refused",
            extra={"target": self.target.name, "key": alert.key, "cause": outcome.cause},
        )

    async def _attempt(self, alert: Alert, stop: asyncio.Event) -> Outcome:
        if stop.is_set():
            raise DeliveryInterrupted
        body = orjson.dumps(body_for(self.target.format, alert, self.target.chat_id))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": alert.key,
            "User-Agent": USER_AGENT,
        }
        outcome = await cancel_on_stop(stop, self._post(body, headers))
        if outcome is None:
            raise DeliveryInterrupted
        return outcome

    async def _post(self, body: bytes, headers: dict[str, str]) -> Outcome:
        """One POST. Errors are reported by class name only: their text may hold the URL."""
        try:
            async with self._session.post(
                self.target.endpoint(), data=body, headers=headers, timeout=self._timeout,
                allow_redirects=False,
            ) as response:  # fmt: skip
                answer = await response.content.read(MAX_ANSWER_BYTES)
                return classify(response.status, response.headers, answer)
        except TimeoutError:
            return Outcome("retry", "timeout")
        except (aiohttp.ClientError, OSError) as exc:
            return Outcome("retry", type(exc).__name__)


async def _pause(seconds: float, stop: asyncio.Event) -> None:
    if seconds > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)
    if stop.is_set():
        raise DeliveryInterrupted
