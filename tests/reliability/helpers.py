"""Shared pieces of the fault-injection suite: service processes, waiting, measurements.

`ServiceProcess` runs one service the way a container does (`python -m microservices.cli
--env-file /dev/null <service>` with settings in its environment and JSON logs on stderr),
reads its log events, and stops it with SIGTERM (graceful) or SIGKILL (a crash).
`MEASUREMENTS` collects what each fault test measured; conftest prints it after the run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis.asyncio as aredis

from microservices.common.settings import variables
from microservices.data_collector import exchanges

SETTING_NAMES = frozenset(name.upper() for name in variables())
# URL venues the simulator serves (every registered one with a dialect), also the VENUES the
# reliability tests collect (bybit_spot shares bybit's URL venue and stays off by default)
SIM_VENUES = tuple(exchanges.simulators())


# ----------------------------------------------------------------------------- waiting


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout_s: float, what: str, every_s: float = 0.1
) -> Any:
    """Poll `check` until it returns something truthy; AssertionError naming `what` on timeout."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what} (last: {last!r})")


# ----------------------------------------------------------------------------- processes


def service_env(
    redis_url: str,
    prefix: str,
    *,
    sim_base: str | None = None,
    **settings: Any,
) -> dict[str, str]:
    """Environment of a service: this process's environment without any setting variable,
    plus REDIS_URL, STREAM_PREFIX, the simulator's endpoints and `settings` (upper-cased)."""
    env = {k: v for k, v in os.environ.items() if k.upper() not in SETTING_NAMES}
    env |= {
        "REDIS_URL": redis_url,
        "STREAM_PREFIX": prefix,
        "LOG_FORMAT": "json",
        "REST_HISTORY_DIR": "",
        "PYTHONUNBUFFERED": "1",
    }
    if sim_base is not None:
        ws_base = sim_base.replace("http://", "ws://", 1)
        urls = exchanges.simulator_endpoints(sim_base, ws_base, SIM_VENUES)
        env |= {name.upper(): url for name, url in urls.items()}
    for name, value in settings.items():
        env[name.upper()] = ",".join(value) if isinstance(value, list | tuple) else str(value)
    return env


@dataclass
class ServiceProcess:
    """One service as a child process; logs (stdout and stderr) go to `log_path`."""

    command: str  # collector | aggregator | engine
    env: dict[str, str]
    log_path: Path
    args: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    returncodes: list[int] = field(default_factory=list)

    def start(self) -> ServiceProcess:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "microservices.cli",
                    "--env-file",
                    "/dev/null",
                    self.command,
                    *self.args,
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.log_path.parent,
            )
        finally:
            log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM and wait (graceful drain); SIGKILL if it outlives `timeout_s`."""
        return self._end(signal.SIGTERM, timeout_s)

    async def terminate(self, timeout_s: float = 30.0) -> int:
        """`stop()` without blocking the event loop (an in-process simulator keeps serving
        the service's close handshakes meanwhile)."""
        return await asyncio.to_thread(self.stop, timeout_s)

    def pause(self) -> None:
        """SIGSTOP: freeze the process where it is (e.g. between a read and its XACK)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> int:
        """SIGKILL: a crash, no drain, no acknowledgement of what was in flight."""
        return self._end(signal.SIGKILL, 10.0)

    def _end(self, sig: signal.Signals, timeout_s: float) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        code = int(self.proc.returncode)
        self.returncodes.append(code)
        return code

    def text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def logs(self) -> list[dict[str, Any]]:
        """Every JSON log line so far (other lines, e.g. tracebacks, are skipped)."""
        out = []
        for line in self.text().splitlines():
            if line.startswith("{"):
                try:
                    out.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    continue
        return out

    def events(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.logs() if e.get("event") == name]


class Services:
    """Starts services for one test and makes sure none outlives it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[ServiceProcess] = []

    def start(
        self, command: str, env: dict[str, str], *args: str, name: str = ""
    ) -> ServiceProcess:
        log = self.workdir / f"{name or command}.log"
        service = ServiceProcess(command, env, log, tuple(args)).start()
        self.started.append(service)
        return service

    def cleanup(self) -> None:
        for service in self.started:
            if service.alive():
                service.kill()


# ----------------------------------------------------------------------------- reading


def log_time(event: dict[str, Any]) -> float:
    """Unix time (s) of a JSON log event's `ts` ('2026-01-01T00:00:00.123Z')."""
    return datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).timestamp()


async def http_json(url: str) -> tuple[int, Any] | None:
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.get(url)
    except httpx.TransportError:
        return None
    return response.status_code, response.json()


async def stream_fields(redis: aredis.Redis, name: str) -> list[tuple[str, dict[str, str]]]:
    rows: Any = await redis.xrange(name)
    return [(i.decode(), {k.decode(): v.decode() for k, v in f.items()}) for i, f in rows]


async def group_info(redis: aredis.Redis, stream: str, group: str) -> dict[str, Any]:
    groups: Any = await redis.xinfo_groups(stream)
    for info in groups:
        name = info["name"].decode() if isinstance(info["name"], bytes) else info["name"]
        if name == group:
            return {k: v.decode() if isinstance(v, bytes) else v for k, v in info.items()}
    raise AssertionError(f"no group {group} on {stream}")


# ----------------------------------------------------------------------------- measurements


@dataclass
class Measurement:
    fault: str
    injected: str
    lost: str
    recovery_s: float | None
    test: str
    extra: dict[str, Any] = field(default_factory=dict)


MEASUREMENTS: list[Measurement] = []


def measure(
    fault: str, injected: str, lost: str, recovery_s: float | None, test: str, **extra: Any
) -> None:
    """Record one fault test's numbers (printed at the end of the run; never asserted)."""
    MEASUREMENTS.append(Measurement(fault, injected, lost, recovery_s, test, extra))


def format_measurements(items: Iterable[Measurement]) -> list[str]:
    lines = []
    for m in items:
        more = " ".join(f"{k}={v}" for k, v in m.extra.items())
        if m.fault.startswith("fuzz "):
            lines.append(f"{m.fault}: {m.injected} {more}".rstrip())
            continue
        rec = "-" if m.recovery_s is None else f"{m.recovery_s:.2f}s"
        lines.append(f"{m.fault}: injected {m.injected}; lost {m.lost}; recovery {rec}; {more}")
    return lines
