"""REST failures in one short line: venue, endpoint and cause instead of aiohttp's reprs; and
FoldedLog, which folds repeated failures into one line per key and interval with a count."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from microservices.common.backoff import Backoff
from microservices.common.errors import TransientError
from microservices.common.log_fold import FoldedLog
from microservices.common.redis_server import free_port
from microservices.data_collector.exchanges.base import RestRequest
from microservices.data_collector.exchanges.binance.spot import Binance
from microservices.data_collector.rest_client import RestClient
from microservices.data_collector.rest_errors import failure_fields

REQ = RestRequest("/api/v3/klines", {"symbol": "BTCUSDT"}, weight=2)


async def no_sleep(seconds: float) -> None:
    return None


async def test_a_refused_connection_is_one_short_line() -> None:
    venue = Binance(["BTCUSDT"], ws_url="ws://x", rest_url=f"http://127.0.0.1:{free_port()}")
    async with aiohttp.ClientSession() as session:
        client = RestClient(session, backoff=Backoff(base_s=0.0, cap_s=0.0), sleep=no_sleep)
        with pytest.raises(TransientError) as caught:
            await client.get_json(venue, REQ)
    assert str(caught.value) == "binance /api/v3/klines: refused"
    assert failure_fields(caught.value) == ("/api/v3/klines", "refused")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_repeats_fold_into_one_line_per_key_and_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    log = FoldedLog(logging.getLogger("test.fold"), "rest.failed", 60.0, clock=clock)
    caplog.set_level(logging.WARNING, logger="test.fold")
    for second in (0, 10, 59):  # three polls of three symbols inside one minute
        clock.now = 100.0 + second
        for symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT"):
            log.add({"exchange": "bybit", "cause": "HTTP 503"}, symbol=symbol)
        log.add({"exchange": "binance", "cause": "refused"}, symbol="BTCUSDT")
        log.flush()
    lines = [(r.exchange, r.cause, r.count, r.symbol) for r in caplog.records]  # type: ignore[attr-defined]
    assert lines == [("bybit", "HTTP 503", 1, "BTCUSDT"), ("binance", "refused", 1, "BTCUSDT")]
    assert {r.getMessage() for r in caplog.records} == {"rest.failed"}
    caplog.clear()
    clock.now = 160.0  # a minute after the first lines: the rest is logged, counted
    log.flush()
    lines = [(r.exchange, r.cause, r.count, r.symbol) for r in caplog.records]  # type: ignore[attr-defined]
    assert lines == [
        ("bybit", "HTTP 503", 8, "BTCUSDT,ETHUSDT,SOLUSDT"),
        ("binance", "refused", 2, "BTCUSDT"),
    ]
    caplog.clear()
    log.flush(force=True)  # nothing new: nothing to say
    assert caplog.records == []
