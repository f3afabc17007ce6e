"""The embedded/test Redis never outlives a failed start."""

from __future__ import annotations

import os

import pytest

from microservices.common import redis_server
from microservices.common.redis_server import LocalRedis
from tests.conftest import require_redis_server


def test_failed_start_stops_the_half_started_server(monkeypatch: pytest.MonkeyPatch) -> None:
    require_redis_server()
    monkeypatch.setattr(redis_server, "wait_for_port", lambda *a, **k: False)
    server = LocalRedis(prefer="redis-server")
    with pytest.raises(RuntimeError, match="did not start"):
        server.start()
    assert server._proc is None  # stopped and reaped by start() itself


def test_failed_start_leaves_no_process(monkeypatch: pytest.MonkeyPatch) -> None:
    require_redis_server()
    pids: list[int] = []
    real_start_binary = LocalRedis._start_binary

    def start_binary(self: LocalRedis) -> None:
        real_start_binary(self)
        assert self._proc is not None
        pids.append(self._proc.pid)

    monkeypatch.setattr(LocalRedis, "_start_binary", start_binary)
    monkeypatch.setattr(redis_server, "wait_for_port", lambda *a, **k: False)
    with pytest.raises(RuntimeError):
        LocalRedis(prefer="redis-server").start()
    [pid] = pids
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
