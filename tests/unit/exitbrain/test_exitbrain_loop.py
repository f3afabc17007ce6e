"""The ExitBrain loop: refreshes every symbol, survives errors, stops promptly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import fakeredis
import pytest
import redis.asyncio as aredis
from prometheus_client import REGISTRY
from redis.exceptions import ConnectionError as RedisConnectionError

from backend.domains.exits.exit_brain_v3.cross_exchange_adapter import CrossExchangeAdapter
from microservices.ai_engine.exitbrain_loop import run_exitbrain_loop, wait_for_fresh_data
from microservices.common.streams import build_streams
from tests.unit.exitbrain.helpers import T0, snapshot


class ScriptedAdapter:
    """Records calls; raises on the calls listed in `fail_on`; sets `stop` after `rounds`."""

    def __init__(self, stop: asyncio.Event, symbols: int, rounds: int, fail_on: set[int]) -> None:
        self.stop = stop
        self.calls: list[str] = []
        self.limit = symbols * rounds
        self.fail_on = fail_on

    async def refresh(self, symbol: str) -> object:
        self.calls.append(symbol)
        if len(self.calls) >= self.limit:
            self.stop.set()
        if len(self.calls) in self.fail_on:
            raise RedisConnectionError("boom")
        return None

    def in_local_mode(self, symbol: str) -> bool:
        return False


async def test_refreshes_each_symbol_every_round_and_survives_errors() -> None:
    stop = asyncio.Event()
    adapter = ScriptedAdapter(stop, symbols=2, rounds=3, fail_on={1, 4})
    await asyncio.wait_for(run_exitbrain_loop(adapter, ["BTCUSDT", "ETHUSDT"], 0, stop), 5)
    assert adapter.calls == ["BTCUSDT", "ETHUSDT"] * 3


async def test_bug_errors_propagate() -> None:
    class Broken:
        async def refresh(self, symbol: str) -> object:
            raise ZeroDivisionError

        def in_local_mode(self, symbol: str) -> bool:
            return False

    with pytest.raises(ZeroDivisionError):
        await run_exitbrain_loop(Broken(), ["BTCUSDT"], 0, asyncio.Event())


async def test_stops_promptly_during_a_long_interval() -> None:
    stop = asyncio.Event()
    first_round = asyncio.Event()

    class Counting:
        calls = 0

        async def refresh(self, symbol: str) -> object:
            Counting.calls += 1
            first_round.set()
            return None

        def in_local_mode(self, symbol: str) -> bool:
            return False

    task = asyncio.create_task(run_exitbrain_loop(Counting(), ["BTCUSDT"], 3600, stop))
    await first_round.wait()
    stop.set()
    await asyncio.wait_for(task, 1.0)
    assert Counting.calls == 1


@pytest.fixture
async def redis() -> AsyncIterator[aredis.Redis]:
    client = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=False)
    yield client
    await client.aclose()


async def test_loop_with_the_real_adapter_publishes_status(redis: aredis.Redis) -> None:
    streams = build_streams("test:")
    await redis.xadd(streams.normalized.name, streams.normalized.schema.encode(snapshot()))  # type: ignore[arg-type]
    stop = asyncio.Event()
    adapter = CrossExchangeAdapter(redis, streams, clock=lambda: T0 + 1_000)
    seen: list[str] = []

    class StopAfterTwo:
        async def refresh(self, symbol: str) -> object:
            result = await adapter.refresh(symbol)
            seen.append(symbol)
            if len(seen) == 4:
                stop.set()
            return result

        def in_local_mode(self, symbol: str) -> bool:
            return adapter.in_local_mode(symbol)

    await asyncio.wait_for(run_exitbrain_loop(StopAfterTwo(), ["BTCUSDT", "ETHUSDT"], 0, stop), 5)
    assert await redis.xlen(streams.status.name) == 4
    assert adapter.stats()["total_reads"] == 4
    assert adapter.symbol_stats()["BTCUSDT"]["use_local_mode"] is False
    assert adapter.symbol_stats()["ETHUSDT"]["use_local_mode"] is True
    # the ce_exitbrain_local_mode gauge follows each symbol's mode
    assert REGISTRY.get_sample_value("ce_exitbrain_local_mode", {"symbol": "BTCUSDT"}) == 0.0
    assert REGISTRY.get_sample_value("ce_exitbrain_local_mode", {"symbol": "ETHUSDT"}) == 1.0


class Probe:
    """`fresh()` answers from a script: True/False, or an exception to raise."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def __call__(self) -> bool:
        self.calls += 1
        answer = self.answers.pop(0) if self.answers else False
        if isinstance(answer, Exception):
            raise answer
        return bool(answer)


async def test_warmup_ends_at_the_first_fresh_data_and_survives_probe_errors() -> None:
    probe = Probe(False, RedisConnectionError("not up yet"), False, True, False)
    arrived = await wait_for_fresh_data(probe, warmup_s=60, stop=asyncio.Event(), poll_s=0.001)
    assert (arrived, probe.calls) == (True, 4)


async def test_warmup_gives_up_after_its_time_without_data() -> None:
    probe = Probe()
    arrived = await wait_for_fresh_data(probe, warmup_s=0.05, stop=asyncio.Event(), poll_s=0.001)
    assert arrived is False
    assert probe.calls >= 2  # it kept asking until the warm-up was over


async def test_warmup_of_zero_asks_once_and_stop_ends_it() -> None:
    probe = Probe()
    assert await wait_for_fresh_data(probe, warmup_s=0, stop=asyncio.Event()) is False
    assert probe.calls == 1
    stopped = asyncio.Event()
    stopped.set()
    assert await wait_for_fresh_data(Probe(True), warmup_s=60, stop=stopped) is False


async def test_symbols_are_read_every_round_and_a_failed_read_keeps_the_last() -> None:
    """With top:N the followed set changes: the loop asks for it each round."""
    stop = asyncio.Event()
    adapter = ScriptedAdapter(stop, symbols=1, rounds=4, fail_on=set())
    answers: list[list[str] | Exception] = [
        ["BTCUSDT"],
        ["BTCUSDT"],
        ["ETHUSDT"],
        RedisConnectionError("down"),
        ["SOLUSDT"],
    ]

    async def followed() -> list[str]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    await asyncio.wait_for(run_exitbrain_loop(adapter, followed, 0, stop), 5)
    assert adapter.calls == ["BTCUSDT", "ETHUSDT", "ETHUSDT", "SOLUSDT"]  # 1st read: start log
