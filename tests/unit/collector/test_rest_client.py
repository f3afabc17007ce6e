"""RestClient against a local aiohttp server, with a fake clock: rate limits, backoff, circuits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from microservices.common.backoff import Backoff
from microservices.common.errors import BadMessage, TransientError
from microservices.data_collector.exchanges.base import RestRequest
from microservices.data_collector.exchanges.binance.spot import Binance
from microservices.data_collector.exchanges.bybit.exchange import Bybit
from microservices.data_collector.rest_client import CircuitOpen, RateLimited, RestClient


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Script:
    """Answers requests from a list of (status, headers, body); records request times."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.answers: list[tuple[int, dict[str, str], Any]] = []
        self.times: list[float] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.times.append(self.clock.now)
        status, headers, body = self.answers.pop(0) if self.answers else (200, {}, [])
        if body == "hang":
            import asyncio

            await asyncio.sleep(5)
        return web.json_response(body, status=status, headers=headers)


@pytest.fixture
async def setup() -> AsyncIterator[tuple[RestClient, Script, FakeClock, str]]:
    clock = FakeClock()
    script = Script(clock)
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", script.handle)
    server = TestServer(app)
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        client = RestClient(
            session, timeout_s=0.5, circuit_failures=3, circuit_reset_s=30.0,
            backoff=Backoff(base_s=1.0, cap_s=4.0, jitter=0.0), clock=clock, sleep=clock.sleep,
        )  # fmt: skip
        yield client, script, clock, str(server.make_url("")).rstrip("/")
    await server.close()


REQ = RestRequest("/api/v3/klines", {"symbol": "BTCUSDT"}, weight=2)


async def test_429_blocks_the_venue_for_retry_after(setup: Any) -> None:
    client, script, clock, base = setup
    venue = Binance(["BTCUSDT"], ws_url="ws://x", rest_url=base)
    script.answers = [(429, {"Retry-After": "7"}, {"code": -1003, "msg": "Too many requests"})]
    with pytest.raises(RateLimited) as caught:
        await client.get_once(venue, REQ)
    assert caught.value.retry_after_s == 7.0
    assert client.blocked_for("binance") == pytest.approx(7.0)
    assert await client.get_once(venue, REQ) == []
    assert script.times == [1000.0, 1007.0]  # the second request waited out the window


async def test_get_json_rides_out_a_429_burst_without_requests_inside_windows(setup: Any) -> None:
    client, script, clock, base = setup
    venue = Binance(["BTCUSDT"], ws_url="ws://x", rest_url=base)
    script.answers = [(429, {"Retry-After": "2"}, {}), (429, {"Retry-After": "3"}, {}),
                      (200, {}, [[1, "1", "1", "1", "1", "1", 2, "0", 1, "0", "0", "0"]])]  # fmt: skip
    payload = await client.get_json(venue, REQ)
    assert payload[0][0] == 1
    assert script.times == [1000.0, 1002.0, 1005.0]


async def test_418_ban_uses_its_retry_after(setup: Any) -> None:
    client, script, clock, base = setup
    venue = Binance(["BTCUSDT"], ws_url="ws://x", rest_url=base)
    script.answers = [(418, {"Retry-After": "120"}, {"code": -1003})]
    with pytest.raises(RateLimited):
        await client.get_once(venue, REQ)
    assert client.blocked_for("binance") == pytest.approx(120.0)


async def test_403_without_retry_after_blocks_five_minutes(setup: Any) -> None:
    client, script, clock, base = setup
    venue = Bybit(["BTCUSDT"], ws_url="ws://x", rest_url=base)
    script.answers = [(403, {}, {"retCode": 10006, "retMsg": "access too frequent"})]
    with pytest.raises(RateLimited):
        await client.get_once(venue, RestRequest("/v5/market/tickers", {}))
    assert client.blocked_for("bybit") == pytest.approx(300.0)


async def test_451_geo_block_is_asked_again_only_after_ten_minutes(setup: Any) -> None:
    client, script, clock, base = setup
    venue = Binance(["BTCUSDT"], ws_url="ws://x", rest_url=base)
    script.answers = [
        (451, {}, {"code": 0, "msg": "Service unavailable from a restricted location"})
    ]
    with pytest.raises(RateLimited) as caught:
        await client.get_once(venue, REQ)
    assert client.blocked_for("binance") == pytest.approx(600.0)
    assert "451" in str(caught.value)


async def test_5xx_is_retried_with_backoff(setup: Any) -> None:
    client, script, clock, base = setup
    venue = Binance(["BTCUSDT"], ws_url="ws://x", rest_url=base)
    script.answers = [(503, {}, {}), (502, {}, {}), (200, {}, {"ok": 1})]
    assert await client.get_json(venue, REQ) == {"ok": 1}
    assert clock.sleeps == [1.0, 2.0]
    assert len(script.times) == 3


async def test_circuit_opens_after_consecutive_failures_and_half_opens(setup: Any) -> None:
    client, script, clock, base = setup
    venue = Binance(["BTCUSDT"], ws_url="ws://x", rest_url=base)
    script.answers = [(500, {}, {})] * 3
    for _ in range(3):
        with pytest.raises(TransientError):
            await client.get_once(venue, REQ)
    with pytest.raises(CircuitOpen):
        await client.get_once(venue, REQ)
    assert len(script.times) == 3  # the open circuit sent nothing
    clock.now += 30.0
    assert await client.get_once(venue, REQ) == []  # one probe after reset, success closes it
    assert len(script.times) == 4


async def test_weight_budget_spreads_requests_over_the_minute(setup: Any) -> None:
    client, script, clock, base = setup

    class Tiny(Binance):
        rest_weight_per_minute = 8  # budget = half = 4 weight per minute

    venue = Tiny(["BTCUSDT"], ws_url="ws://x", rest_url=base)
    for _ in range(3):
        await client.get_once(venue, REQ)
    assert script.times == [1000.0, 1000.0, 1060.0]


async def test_high_used_weight_header_pauses_until_next_minute(setup: Any) -> None:
    client, script, clock, base = setup
    venue = Binance(["BTCUSDT"], ws_url="ws://x", rest_url=base)
    script.answers = [(200, {"X-MBX-USED-WEIGHT-1M": "5999"}, [])]
    await client.get_once(venue, REQ)
    assert 0 < client.blocked_for("binance") <= 60.0


async def test_venue_error_body_is_bad_message(setup: Any) -> None:
    client, script, clock, base = setup
    venue = Bybit(["BTCUSDT"], ws_url="ws://x", rest_url=base)
    script.answers = [(200, {}, {"retCode": 10001, "retMsg": "params error", "result": {}})]
    with pytest.raises(BadMessage):
        await client.get_json(venue, RestRequest("/v5/market/kline", {}))
    assert len(script.times) == 1  # bad data is not retried


async def test_timeout_is_transient(setup: Any) -> None:
    client, script, clock, base = setup
    venue = Binance(["BTCUSDT"], ws_url="ws://x", rest_url=base)
    script.answers = [(200, {}, "hang")]
    with pytest.raises(TransientError):
        await client.get_once(venue, REQ)
