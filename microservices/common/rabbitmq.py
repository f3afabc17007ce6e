"""RabbitMQ publisher: seed 002's integration ("the collectors can publish data to RabbitMQ for
downstream processing": exchange `market_data`, routing key `large_trades`).

`offer(routing_key, body)` is synchronous and never blocks: the message joins a bounded
buffer (full: the oldest is dropped and counted). `run(stop)` connects with aio-pika, declares
the durable topic exchange, and publishes the buffer's head in batches with publisher
confirms; a message leaves the buffer only after the broker confirmed it (at least once: a
batch cut by a failure is published again in full). A lost broker is retried with capped,
jittered backoff while the buffer holds what arrives meanwhile. Messages are persistent JSON
with a `message_id` (the large trade's row id, or the alert's id) for downstream dedup.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Final

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from pamqp.commands import Basic

from microservices.common import market_metrics
from microservices.common.backoff import Backoff
from microservices.common.settings import redact_url

logger = logging.getLogger(__name__)
BATCH: Final = 100  # messages awaiting confirmation at once
CONNECT_TIMEOUT_S: Final = 10.0
CONFIRM_TIMEOUT_S: Final = 10.0
BROKER_ERRORS: Final = (
    aio_pika.exceptions.AMQPError,
    aiormq.exceptions.AMQPError,
    ConnectionError,
    OSError,
    TimeoutError,
    RuntimeError,  # aio-pika: "Connection closed" / channel used after close
)
Message = tuple[str, bytes, str]  # (routing key, JSON body, message id)


class Refused(ConnectionError):
    """The broker nacked or rejected a message of the batch (it is published again)."""


class RabbitPublisher:
    def __init__(
        self,
        url: str,
        exchange: str = "market_data",
        *,
        buffer_max: int = 10_000,
        backoff: Backoff | None = None,
    ) -> None:
        self.url = url
        self.exchange_name = exchange
        self.buffer_max = buffer_max
        self._buffer: deque[Message] = deque()
        self._backoff = backoff or Backoff(base_s=0.5, cap_s=30.0)
        self._wakeup = asyncio.Event()
        self.published = 0
        self.dropped = 0
        self.connected = False

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def offer(self, routing_key: str, body: bytes, message_id: str) -> None:
        """Queue one message; when the buffer is full the oldest one is dropped and counted."""
        if len(self._buffer) >= self.buffer_max:
            self._buffer.popleft()
            self.dropped += 1
            market_metrics.RABBITMQ_DROPPED.inc()
        self._buffer.append((routing_key, body, message_id))
        market_metrics.RABBITMQ_BUFFERED.set(len(self._buffer))
        self._wakeup.set()

    async def run(self, stop: asyncio.Event, drain_timeout_s: float = 5.0) -> None:
        """Publish until `stop` is set (then for at most `drain_timeout_s` more)."""
        attempt = 0
        while not stop.is_set():
            try:
                await self._session(stop)
                attempt = 0
            except BROKER_ERRORS as exc:
                self._mark(False, repr(exc))
                await _wait(stop, self._backoff.delay(attempt))
                attempt += 1
        if self._buffer:
            with contextlib.suppress(*BROKER_ERRORS):
                await asyncio.wait_for(self._session(None), drain_timeout_s)

    async def _session(self, stop: asyncio.Event | None) -> None:
        """One connection: publish while it lasts; with `stop` None, until the buffer is
        empty (the final drain)."""
        connection: AbstractConnection = await aio_pika.connect(self.url, timeout=CONNECT_TIMEOUT_S)
        async with connection:
            channel: AbstractChannel = await connection.channel(publisher_confirms=True)
            exchange = await channel.declare_exchange(
                self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
            )
            self._mark(True, "")
            while stop is None or not stop.is_set():
                if not self._buffer:
                    if stop is None:
                        return
                    self._wakeup.clear()
                    await _wait_either(stop, self._wakeup, 1.0)
                    continue
                await self._publish_head(exchange)

    async def _publish_head(self, exchange: AbstractExchange) -> None:
        batch = [self._buffer[i] for i in range(min(BATCH, len(self._buffer)))]
        replies = await asyncio.gather(
            *(
                exchange.publish(_message(body, message_id), key, mandatory=False,
                                 timeout=CONFIRM_TIMEOUT_S)
                for key, body, message_id in batch
            ),
            return_exceptions=True,  # every publish settles before the batch is judged
        )  # fmt: skip
        for reply in replies:
            if isinstance(reply, BaseException):
                raise reply
        refused = sum(1 for reply in replies if not isinstance(reply, Basic.Ack))
        if refused:
            raise Refused(f"{refused} of {len(batch)} messages not confirmed")
        for _ in batch:  # the buffer may have dropped its oldest meanwhile: pop by identity
            if self._buffer and self._buffer[0] in batch:
                self._buffer.popleft()
        self.published += len(batch)
        market_metrics.RABBITMQ_PUBLISHED.inc(len(batch))
        market_metrics.RABBITMQ_BUFFERED.set(len(self._buffer))

    def _mark(self, connected: bool, error: str) -> None:
        if connected != self.connected:
            event = "rabbitmq.connected" if connected else "rabbitmq.unavailable"
            extra = {"url": redact_url(self.url), "buffered": len(self._buffer)}
            if error:
                extra["error"] = error
            (logger.info if connected else logger.warning)(event, extra=extra)
        self.connected = connected
        market_metrics.RABBITMQ_CONNECTED.set(1 if connected else 0)


def _message(body: bytes, message_id: str) -> aio_pika.Message:
    return aio_pika.Message(
        body,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message_id,
    )


async def _wait(stop: asyncio.Event, timeout_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=timeout_s)


async def _wait_either(stop: asyncio.Event, wakeup: asyncio.Event, timeout_s: float) -> None:
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wakeup.wait())]
    try:
        await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
