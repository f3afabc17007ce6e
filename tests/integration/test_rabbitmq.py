"""RabbitMQ on Debian's rabbitmq-server started by the test: large trades and alerts reach the
`market_data` topic exchange with routing keys `large_trades` and `alerts.<type>`; with the
broker stopped mid-run the publisher buffers, and delivers everything once it is back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aio_pika
import orjson
import pytest
import redis.asyncio as aredis

from microservices.ai_engine.large_trades.service import LargeTradeService
from microservices.common.backoff import Backoff
from microservices.common.producer import StreamProducer
from microservices.common.rabbitmq import RabbitPublisher
from microservices.common.records import Liquidation, Trade
from microservices.common.settings import Settings
from tests.rabbit_server import LocalRabbit, require_rabbitmq

pytestmark = pytest.mark.integration
NOW = 1_760_000_000_000


@pytest.fixture
def rabbit() -> Iterator[LocalRabbit]:
    require_rabbitmq()
    broker = LocalRabbit()
    try:
        yield broker.start()
    finally:
        broker.cleanup()


@contextlib.asynccontextmanager
async def bound_queue(url: str, *keys: str) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """A durable queue bound to `market_data` with `keys` (declared before publishing)."""
    connection = await aio_pika.connect(url, timeout=10)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            "market_data", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue("downstream", durable=True)
        for key in keys:
            await queue.bind(exchange, key)
        yield queue


async def drain(queue: aio_pika.abc.AbstractQueue, want: int, timeout_s: float = 30.0) -> list[Any]:
    """Up to `want` messages as (routing key, message id, JSON body), waiting at most timeout."""
    got: list[Any] = []
    deadline = asyncio.get_running_loop().time() + timeout_s
    while len(got) < want and asyncio.get_running_loop().time() < deadline:
        message = await queue.get(fail=False, no_ack=True)
        if message is None:
            await asyncio.sleep(0.05)
            continue
        got.append((message.routing_key, message.message_id, orjson.loads(message.body)))
    return got


async def test_large_trades_and_alerts_reach_rabbitmq(
    rabbit: LocalRabbit, real_redis: aredis.Redis, redis_server: Any, settings_factory: Any
) -> None:
    settings: Settings = settings_factory(redis_url=redis_server.url, rabbitmq_url=rabbit.url)
    publisher = RabbitPublisher(rabbit.url)
    service = LargeTradeService(settings, real_redis, StreamProducer(real_redis), publisher)
    big = Trade(exchange="coinbase", market="spot", symbol="BTCUSD", venue_symbol="BTC-USD",
                group="BTCUSDT", quote="USD", ts_ms=NOW, recv_ms=NOW, price=50123.45, size=2.5,
                side="buy", trade_id="12345")  # fmt: skip
    liq = Liquidation(exchange="bybit", market="perp", symbol="ETHUSDT", venue_symbol="ETHUSDT",
                      group="ETHUSDT", quote="USDT", ts_ms=NOW + 1, recv_ms=NOW + 1,
                      price=2500.0, size=40.0, side="sell")  # fmt: skip
    stop = asyncio.Event()
    async with bound_queue(rabbit.url, "large_trades", "alerts.#") as queue:
        task = asyncio.create_task(publisher.run(stop))
        await service.handle([("1-0", big), ("2-0", liq)])
        got = await drain(queue, 4)
        stop.set()
        await task
    assert sorted((key, mid) for key, mid, _ in got) == [
        ("alerts.LARGE_TRADE", f"LARGE_TRADE:bybit:ETHUSDT:{NOW + 1}"),
        ("alerts.LARGE_TRADE", f"LARGE_TRADE:coinbase:BTCUSD:{NOW}"),
        ("large_trades", f"bybit_ETHUSDT_liq-{NOW + 1}-sell-2500.0-40.0"),
        ("large_trades", "coinbase_BTC-USD_12345"),
    ]
    trade = next(body for key, mid, body in got if mid == "coinbase_BTC-USD_12345")
    assert trade["symbol"] == "BTC-USD" and trade["side"] == "buy"
    assert trade["value_usd"] == pytest.approx(125308.625, abs=0.006)
    assert trade["timestamp"] == "2025-10-09T08:53:20Z" and trade["is_liquidation"] is False
    liquidation = next(
        body for key, mid, body in got if key == "large_trades" and body is not trade
    )
    assert liquidation["is_liquidation"] is True and liquidation["value_usd"] == 100_000.0
    assert publisher.published == 4 and publisher.dropped == 0


async def test_broker_outage_buffers_then_delivers(rabbit: LocalRabbit) -> None:
    publisher = RabbitPublisher(rabbit.url, backoff=Backoff(base_s=0.2, cap_s=1.0))
    stop = asyncio.Event()
    async with bound_queue(rabbit.url, "large_trades"):
        pass  # the durable queue outlives this connection and the broker restart
    task = asyncio.create_task(publisher.run(stop))
    for n in range(5):
        publisher.offer("large_trades", orjson.dumps({"n": n}), f"m{n}")
    while publisher.published < 5:
        await asyncio.sleep(0.05)
    await asyncio.to_thread(rabbit.stop)
    for n in range(5, 25):  # the broker is down: held in the buffer
        publisher.offer("large_trades", orjson.dumps({"n": n}), f"m{n}")
    await asyncio.sleep(1.0)
    assert publisher.pending == 20 and publisher.published == 5 and not publisher.connected
    await asyncio.to_thread(rabbit.start)
    async with bound_queue(rabbit.url, "large_trades") as queue:
        got = await drain(queue, 25)
    stop.set()
    await task
    assert sorted({mid for _, mid, _ in got}, key=lambda m: int(m[1:])) == [
        f"m{n}" for n in range(25)
    ]
    assert publisher.pending == 0 and publisher.dropped == 0
