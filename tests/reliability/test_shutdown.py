"""Shutdown, against real processes: Ctrl-C with REST requests in flight, a second Ctrl-C
while the drain hangs, and SIGKILL of `cross-exchange run` with its embedded redis-server.

Behaviour checks only: deadlines below are test timeouts, never the thing asserted. What the
shutdowns took is recorded with `measure` (printed at the end of the run).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from microservices.common.redis_io import create_redis
from microservices.common.redis_server import LocalRedis, free_port
from microservices.common.streams import build_streams
from microservices.exchange_simulator.config import MarketConfig, SimulatorConfig
from microservices.exchange_simulator.server import SimulatorHandle, start_simulator
from tests.conftest import require_redis_server
from tests.reliability.helpers import (
    SETTING_NAMES,
    ServiceProcess,
    Services,
    eventually,
    http_json,
    measure,
    service_env,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SYMBOLS = ("BTCUSDT", "ETHUSDT")
LATENCY_MS = 30_000  # every REST answer (and WS frame) of the simulator comes this late
EXIT_DEADLINE_S = 60.0  # test timeout for an exit; far beyond any grace period


async def wait_for_exit(service: ServiceProcess, timeout_s: float = EXIT_DEADLINE_S) -> int:
    assert service.proc is not None
    proc = service.proc
    try:
        return await asyncio.to_thread(proc.wait, timeout_s)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"{service.command} still running {timeout_s}s after the signal"
        ) from None


def send(service: ServiceProcess, sig: signal.Signals) -> float:
    assert service.proc is not None
    service.proc.send_signal(sig)
    return time.monotonic()


def data_frames(sim: SimulatorHandle) -> int:
    return int(sim.stats()["totals"].get("data_frames_sent", 0))


async def wait_for_log(service: ServiceProcess, event: str, timeout_s: float = 30) -> None:
    async def seen() -> bool:
        return bool(service.events(event))

    await eventually(seen, timeout_s, f"{event} in the {service.command} log")


# ----------------------------------------------------------------------------- first Ctrl-C


async def test_sigint_cancels_rest_requests_in_flight(
    tmp_path: Path, redis_server: LocalRedis, stream_prefix: str, services: Services
) -> None:
    """With every REST answer 30 s away, Ctrl-C stops the collector without the grace period
    running out (before the fix: `lifecycle.grace_expired`, 10 s later)."""
    port = free_port()
    sim_env = {k: v for k, v in os.environ.items() if k.upper() not in SETTING_NAMES}
    services.start(
        "simulator", sim_env, "--port", str(port), "--symbols", ",".join(SYMBOLS),
        "--latency-ms", str(LATENCY_MS), name="simulator",
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    async def rest_in_flight() -> bool:
        answer = await http_json(f"{base}/_sim/stats")
        if answer is None:
            return False
        venues = answer[1]["venues"].values()
        return bool(sum(v.get("rest_total", 0) for v in venues))  # counted when it arrives

    env = service_env(
        redis_server.url, stream_prefix, sim_base=base, symbols=SYMBOLS,
        rest_history_dir=tmp_path / "history",
    )  # fmt: skip
    collector = services.start("collector", env)
    await wait_for_log(collector, "ws.connected")
    await eventually(rest_in_flight, 30, "a REST request at the simulator")

    sent = send(collector, signal.SIGINT)
    code = await wait_for_exit(collector)
    took = time.monotonic() - sent

    names = [e["event"] for e in collector.logs()]
    assert "lifecycle.grace_expired" not in names, collector.text()[-3000:]
    assert "collector.stopped" in names
    assert code == 0
    measure(
        "shutdown, REST in flight", "SIGINT with 30 s REST latency", "-", None,
        "test_sigint_cancels_rest_requests_in_flight", shutdown_s=round(took, 2),
    )  # fmt: skip


# ----------------------------------------------------------------------------- second Ctrl-C


async def test_second_sigint_exits_while_the_drain_hangs(
    services: Services, local_redis: Callable[..., LocalRedis], stream_prefix: str
) -> None:
    """Redis stops answering writes (CLIENT PAUSE), so the producer's drain hangs after the
    first Ctrl-C; the second one ends the process at once (before the fix it was ignored)."""
    server = local_redis()
    client = create_redis(server.url)
    config = SimulatorConfig(port=0, market=MarketConfig(symbols=SYMBOLS, seed=5, rate=20.0))
    try:
        async with start_simulator(config) as sim:
            env = service_env(
                server.url, stream_prefix, sim_base=sim.base_url, symbols=SYMBOLS,
                rest_enabled="false", redis_socket_timeout_s=60,
            )  # fmt: skip
            collector = services.start("collector", env)
            raw = build_streams(stream_prefix).raw.name

            async def delivering() -> bool:
                return int(await client.xlen(raw)) > 0

            await eventually(delivering, 30, "records in exchange.raw")
            await client.client_pause(120_000, all=False)  # writes only
            before, paused_at = int(await client.xlen(raw)), data_frames(sim)

            async def buffering() -> bool:  # frames keep coming; none can be written now
                return data_frames(sim) > paused_at + 20

            await eventually(buffering, 30, "frames sent while Redis writes are paused")
            assert int(await client.xlen(raw)) == before, "writes should be paused"

            send(collector, signal.SIGINT)
            await wait_for_log(collector, "lifecycle.stopping")
            assert collector.alive(), "the drain should still be waiting for the paused Redis"
            sent = send(collector, signal.SIGINT)
            code = await wait_for_exit(collector)
            took = time.monotonic() - sent
    finally:
        await client.client_unpause()
        await client.aclose()

    names = [e["event"] for e in collector.logs()]
    assert "lifecycle.forced_exit" in names, collector.text()[-3000:]
    assert "collector.stopped" not in names  # it did not wait for the drain
    assert code == 128 + signal.SIGINT
    measure(
        "shutdown, second Ctrl-C", "SIGINT twice, Redis writes paused", "the buffer", None,
        "test_second_sigint_exits_while_the_drain_hangs", exit_s=round(took, 2),
    )  # fmt: skip


# ----------------------------------------------------------------------------- SIGKILL


def child_pids(parent: int, name: str) -> list[int]:
    """Pids of living children of `parent` whose command is `name` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[0] == name and stat[2] == parent:
                found.append(int(entry.name))
    return found


def _stat(pid: int) -> tuple[str, str, int] | None:
    """(command, state, parent pid) of a process, None when it does not exist."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    comm = text[text.index("(") + 1 : text.rindex(")")]
    state, ppid = text[text.rindex(")") + 2 :].split()[:2]
    return comm, state, int(ppid)


def running(pid: int) -> bool:
    """Alive and not a zombie (a zombie has exited; only its parent's wait is missing)."""
    stat = _stat(pid)
    return stat is not None and stat[1] not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
async def test_embedded_redis_dies_with_a_sigkilled_run(services: Services) -> None:
    """`cross-exchange run --demo` SIGKILLed (no cleanup runs): its redis-server follows it
    (before the fix it ran on as an orphan in its own session)."""
    require_redis_server()
    env = {k: v for k, v in os.environ.items() if k.upper() not in SETTING_NAMES}
    env |= {"LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1", "API_PORT": str(free_port())}
    run = services.start("run", env, "--demo", "--no-view")
    assert run.proc is not None

    async def announced() -> re.Match[str] | None:
        return re.search(r"embedded redis listening on 127\.0\.0\.1:(\d+) \(redis-server\)",
                         run.text())  # fmt: skip

    await eventually(announced, 60, "the embedded redis announcement")
    [redis_pid] = child_pids(run.pid, "redis-server")
    try:
        await wait_for_log(run, "ws.connected", timeout_s=60)  # fully up: engine, collector
        run.kill()

        async def gone() -> bool:
            return not running(redis_pid)

        await eventually(gone, 30, f"redis-server {redis_pid} to exit after its owner")
    finally:
        if running(redis_pid):  # the orphan must not outlive the test either
            os.kill(redis_pid, signal.SIGKILL)
