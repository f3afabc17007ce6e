"""Start a local Redis for the all-in-one run and the tests.

`LocalRedis` prefers a real `redis-server` binary (spawned on a free loopback port, no
persistence unless a data dir is given) and falls back to fakeredis's TCP server, so
`cross-exchange run` works with nothing installed. Either way it prints nothing itself; the
caller announces `embedded redis listening on 127.0.0.1:PORT`. The server dies with its owner:
the binary gets a parent-death signal (Linux), the fakeredis server is a thread of ours.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, Literal

Kind = Literal["redis-server", "fakeredis"]
PR_SET_PDEATHSIG: Final = 1  # <linux/prctl.h>


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that has the child SIGKILLed when this process dies, however it dies
    (SIGKILL, the OOM killer): Linux's PR_SET_PDEATHSIG, kept across exec.

    The kernel sends it when the *thread* that forked exits, so it is armed only when forking
    from the main thread (it lives as long as the process); from other threads, and off
    Linux, this returns None (no guard).
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    sigkill = int(signal.SIGKILL)
    parent = os.getpid()

    def arm() -> None:  # in the child between fork and exec: nothing that takes locks
        prctl(PR_SET_PDEATHSIG, sigkill, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return arm


class LocalRedis:
    """A loopback Redis owned by this process; `url` is ready after `start()`."""

    def __init__(
        self,
        port: int = 0,
        *,
        prefer: Kind = "redis-server",
        data_dir: Path | None = None,
        appendonly: bool = False,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.kind: Kind = (
            prefer if prefer == "fakeredis" or shutil.which("redis-server") else "fakeredis"
        )
        self._data_dir = data_dir
        self._appendonly = appendonly
        self._proc: subprocess.Popen[bytes] | None = None
        self._fake: object | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self) -> LocalRedis:
        if self.kind == "redis-server":
            self._start_binary()
        else:
            self._start_fake()
        if not wait_for_port(self.host, self.port):
            self.stop()  # a half-started server must not outlive this failed start
            raise RuntimeError(f"{self.kind} did not start on {self.host}:{self.port}")
        return self

    def _start_binary(self) -> None:
        workdir = self._data_dir or Path(tempfile.mkdtemp(prefix="ce-redis-"))
        workdir.mkdir(parents=True, exist_ok=True)
        args = [
            "redis-server", "--port", str(self.port), "--bind", self.host,
            "--save", "", "--dir", str(workdir), "--protected-mode", "yes",
            "--appendonly", "yes" if self._appendonly else "no",
        ]  # fmt: skip
        if self._appendonly:
            args += ["--appendfsync", "always"]
        # Own session: a Ctrl-C meant for us must not kill Redis before we have drained into it;
        # a parent-death signal: it must not outlive us either (SIGKILL, OOM killer).
        self._proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=die_with_parent(),
        )  # fmt: skip

    def _start_fake(self) -> None:
        from fakeredis import TcpFakeServer

        server = TcpFakeServer((self.host, self.port), server_type="redis")
        self._fake = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._fake is not None:
            self._fake.shutdown()  # type: ignore[attr-defined]
            self._fake.server_close()  # type: ignore[attr-defined]
            self._fake = None

    def kill(self) -> None:
        """SIGKILL the server (fault injection); `start()` brings it back on the same port."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def __enter__(self) -> LocalRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
