"""A private RabbitMQ broker for tests: Debian's rabbitmq-server on free loopback ports.

Everything lives in a temporary directory (mnesia, logs, cookie via HOME, an empty plugin
list); the AMQP, Erlang distribution and epmd ports are free ports, and the epmd this broker
registers with is our own child (`epmd -port P`, not a shared daemon), so parallel test runs
never meet. `stop()` ends the broker (SIGTERM, then SIGKILL) and can be followed by `start()`
on the same ports and data (a broker outage). Missing binaries skip (fail under CI=true).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from microservices.common.redis_server import free_port
from tests.tools import require_installed

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
START_TIMEOUT_S = 60.0


def require_rabbitmq() -> None:
    present = Path(SERVER).exists() and shutil.which("epmd") is not None
    require_installed("rabbitmq-server", present, "rabbitmq-server")


class LocalRabbit:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ce-rabbit-"))
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.node = f"ce{uuid.uuid4().hex[:8]}@localhost"
        self._epmd: subprocess.Popen[bytes] | None = None
        self._server: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        (self.dir / "enabled_plugins").write_text("[].\n")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict[str, str]:
        d = str(self.dir)
        return os.environ | {
            "HOME": d, "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_DIST_PORT": str(self.dist_port), "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_NODENAME": self.node, "RABBITMQ_MNESIA_BASE": f"{d}/mnesia",
            "RABBITMQ_LOG_BASE": f"{d}/log", "RABBITMQ_ENABLED_PLUGINS_FILE": f"{d}/enabled_plugins",
            "RABBITMQ_CONFIG_FILE": f"{d}/rabbitmq", "RABBITMQ_PID_FILE": f"{d}/pid",
            "RABBITMQ_LOGS": f"{d}/rabbit.log",
        }  # fmt: skip

    def start(self) -> LocalRabbit:
        if self._epmd is None:
            epmd = shutil.which("epmd") or "epmd"
            self._epmd = subprocess.Popen(
                [epmd, "-port", str(self.epmd_port)], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
        out = self.dir / "server.out"
        offset = out.stat().st_size if out.exists() else 0  # a restart: read only its lines
        log = self._log = out.open("ab")
        self._server = subprocess.Popen(
            [SERVER], env=self._env(), cwd=self.dir, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._server.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited: {self._tail()}")
            if self._accepts() and "Starting broker... completed" in self._tail(offset=offset):
                return self
            time.sleep(0.2)
        raise RuntimeError(f"rabbitmq-server did not start: {self._tail()}")

    def _accepts(self) -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def _tail(self, size: int = 2_000, offset: int | None = None) -> str:
        path = self.dir / "server.out"
        if not path.exists():
            return ""
        text = path.read_bytes().decode(errors="replace")
        return text[offset:] if offset is not None else text[-size:]

    def stop(self) -> None:
        """End the broker (its whole process group: the script and the Erlang VM)."""
        server, self._server = self._server, None
        if server is None:
            return
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        except ProcessLookupError:
            server.wait(timeout=10)
        if self._log is not None:
            self._log.close()
        deadline = time.monotonic() + 10
        while self._accepts() and time.monotonic() < deadline:
            time.sleep(0.1)

    def cleanup(self) -> None:
        self.stop()
        if self._epmd is not None:
            self._epmd.terminate()
            self._epmd.wait(timeout=10)
            self._epmd = None
        shutil.rmtree(self.dir, ignore_errors=True)
