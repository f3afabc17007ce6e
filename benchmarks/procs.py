"""Process plumbing of the end-to-end and memory benchmarks: the real services as separate
processes (exchange simulator, collector, aggregator or engine) against a real redis-server.

Each process gets its own log file under the run directory; `Stack.stop()` sends SIGTERM to
the processes this module started (by pid, in reverse order) and waits for them. CPU time and
RSS come from /proc (Linux).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from microservices.common.redis_server import LocalRedis, free_port, wait_for_port
from microservices.data_collector import exchanges
from microservices.exchange_simulator.naming import sample_symbols

PY = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
VENUES = tuple(exchanges.default_venues())  # the venues VENUES defaults to


def exit_on_sigterm() -> None:
    """SIGTERM raises SystemExit, so `finally: stack.stop()` ends the services it started."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def symbols(count: int) -> list[str]:
    return sample_symbols(count)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine spent busy (every core, from /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLK_TCK


def rss_mb(pid: int) -> float:
    pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return pages * PAGE / 2**20


@dataclass
class Stack:
    """Redis + feed (simulator or replay) + collector (+ aggregator or engine), in that order;
    the feed process is named "simulator" either way."""

    run_dir: Path
    symbols: list[str]
    rate: float  # simulator events/s per symbol per venue
    tick_ms: int = 10
    env: dict[str, str] = field(default_factory=dict)  # extra settings for the services
    feed: str = "simulator"  # or "replay": benchmarks.replay_feed (pre-encoded frames)
    redis: LocalRedis | None = None
    sim_port: int = 0
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start_base(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.redis = LocalRedis().start()
        self.sim_port = free_port()
        if self.feed == "replay":
            cmd = [PY, "-m", "benchmarks.replay_feed", "--port", str(self.sim_port),
                   "--rate", str(self.rate), "--tick-ms", str(self.tick_ms)]  # fmt: skip
        else:
            cmd = [PY, "-m", "microservices.exchange_simulator", "--port", str(self.sim_port),
                   "--symbols", ",".join(self.symbols), "--rate", str(self.rate),
                   "--tick-ms", str(self.tick_ms), "--history-minutes", "60"]  # fmt: skip
        self.spawn("simulator", cmd)
        if not wait_for_port("127.0.0.1", self.sim_port, 30):
            raise RuntimeError(f"simulator did not start; see {self.run_dir}/simulator.log")

    def service_env(self, **extra: str) -> dict[str, str]:
        assert self.redis is not None
        env = {
            **os.environ,
            "REDIS_URL": self.redis.url,
            "SYMBOLS": ",".join(self.symbols),
            "VENUES": ",".join(VENUES),
            "LOG_FORMAT": "json",
            "REST_HISTORY_DIR": "",
            "LISTING_CACHE_DIR": str(self.run_dir / "listings"),  # not the checkout's data/
            **self.env,
            **extra,
        }
        base = f"127.0.0.1:{self.sim_port}"
        urls = exchanges.simulator_endpoints(f"http://{base}", f"ws://{base}")
        return env | {name.upper(): url for name, url in urls.items()}

    def start_collector(self) -> None:
        cmd = [PY, "-m", "microservices.cli", "--env-file", "/dev/null", "collector", "--no-rest"]
        self.spawn("collector", cmd, self.service_env())

    def spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> None:
        log = (self.run_dir / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(Path.cwd())
        )
        log.close()

    def pid(self, name: str) -> int:
        return self.procs[name].pid

    def pids(self) -> dict[str, int]:
        """Every process of the stack, redis-server included."""
        out = {name: proc.pid for name, proc in self.procs.items()}
        server = getattr(self.redis, "_proc", None)  # LocalRedis keeps its Popen private
        if server is not None:
            out["redis-server"] = server.pid
        return out

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({proc.returncode}); see {self.run_dir}")

    def sim_stats(self) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.sim_port}/_sim/stats"
        with urllib.request.urlopen(url, timeout=10) as response:
            return dict(orjson.loads(response.read()))

    def stop(self, name: str | None = None, timeout_s: float = 30.0) -> None:
        names = [name] if name else list(reversed(self.procs))
        for key in names:
            proc = self.procs.get(key)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if name is None and self.redis is not None:
            self.redis.stop()
            self.redis = None


def wait_until(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")
