"""The RabbitMQ publisher's bounded buffer, with no broker listening."""

from __future__ import annotations

import asyncio

from microservices.common.backoff import Backoff
from microservices.common.rabbitmq import RabbitPublisher
from microservices.common.redis_server import free_port


def test_full_buffer_drops_the_oldest_and_counts() -> None:
    publisher = RabbitPublisher("amqp://guest:guest@127.0.0.1:1/", buffer_max=3)
    for n in range(5):
        publisher.offer("large_trades", b"{}", f"m{n}")
    assert publisher.pending == 3 and publisher.dropped == 2
    assert [mid for _, _, mid in publisher._buffer] == ["m2", "m3", "m4"]


async def test_unreachable_broker_keeps_the_buffer_and_stops_on_request() -> None:
    url = f"amqp://guest:secret@127.0.0.1:{free_port()}/"
    publisher = RabbitPublisher(url, backoff=Backoff(base_s=0.05, cap_s=0.1))
    publisher.offer("alerts.OI_CHANGE", b"{}", "a1")
    stop = asyncio.Event()
    task = asyncio.create_task(publisher.run(stop, drain_timeout_s=0.5))
    await asyncio.sleep(0.5)
    assert not publisher.connected and publisher.pending == 1 and publisher.published == 0
    stop.set()
    await asyncio.wait_for(task, 5)
    assert publisher.pending == 1 and publisher.dropped == 0
