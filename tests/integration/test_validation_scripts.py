"""The validation scripts, run for real against a live local stack and against a stopped one.

The stack is `cross-exchange run --demo` as a separate process with no REDIS_URL, so this also
checks the all-in-one run: it prints the embedded Redis address, `redis-cli PING` answers, and
within the first seconds /health reports cross-exchange intelligence with all four venues.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from microservices.common.redis_server import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
SCRIPTS = ("validate_phase4m.sh", "validate_phase4m_plus.sh")


def require_tools() -> None:
    missing = [tool for tool in ("redis-cli", "curl", "redis-server") if shutil.which(tool) is None]
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{missing} missing in CI: .ci/run must install them")
        pytest.skip(f"needs {missing}")


def wait_until(predicate: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def health(api: str) -> dict[str, Any] | None:
    try:
        response = httpx.get(f"{api}/health", timeout=3)
    except httpx.TransportError:
        return None
    body: dict[str, Any] = response.json()
    return body


def run_script(name: str, redis_port: int, api: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "STREAM_PREFIX")}
    env |= {"REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "API_URL": api}
    return subprocess.run(
        ["bash", str(REPO / "scripts" / name)], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def demo_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    require_tools()
    api_port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env |= {"API_PORT": str(api_port), "EXITBRAIN_INTERVAL_S": "1", "LOG_FORMAT": "json"}
    workdir = tmp_path_factory.mktemp("demo")
    stderr = (workdir / "stderr.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "microservices.cli", "--env-file", "/dev/null", "run", "--demo",
         "--no-view"],
        cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=stderr,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    first = proc.stdout.readline()
    match = re.search(r"embedded redis listening on 127\.0\.0\.1:(\d+)", first)
    assert match, f"first line was {first!r}"
    stack = {"proc": proc, "redis_port": int(match.group(1)), "api": f"http://127.0.0.1:{api_port}"}
    try:
        yield stack
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        proc.stdout.close()
        stderr.close()


def test_run_demo_serves_everything(demo_stack: dict[str, Any]) -> None:
    pong = subprocess.run(
        ["redis-cli", "-p", str(demo_stack["redis_port"]), "PING"], capture_output=True, text=True
    )
    assert pong.stdout.strip() == "PONG"
    body = wait_until(
        lambda: (h := health(demo_stack["api"])) and h["metrics"]["cross_exchange_intelligence"]
        and all(v["state"] == "connected" for v in h["venues"].values()) and h,
        timeout_s=30, what="cross_exchange_intelligence with all venues connected",
    )  # fmt: skip
    assert set(body["venues"]) == {"binance", "binance_futures", "bybit", "coinbase"}
    status = subprocess.run(
        ["redis-cli", "-p", str(demo_stack["redis_port"]), "XREVRANGE",
         "quantum:stream:exitbrain.status", "+", "-", "COUNT", "1"],
        capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    for field in ("cross_exchange_active", "atr_multiplier", "tp_multiplier", "sl_multiplier",
                  "use_trailing", "reasoning", "total_reads", "fail_count", "data_age_seconds"):  # fmt: skip
        assert field in status


@pytest.mark.parametrize("script", SCRIPTS)
def test_validation_passes_against_the_live_stack(demo_stack: dict[str, Any], script: str) -> None:
    wait_until(lambda: (h := health(demo_stack["api"])) and h["status"] == "ok", 45, "status ok")
    result = run_script(script, demo_stack["redis_port"], demo_stack["api"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" PASS ") == 8
    assert "VALIDATION PASSED" in result.stdout


def test_validation_fails_when_the_stack_is_stopped(demo_stack: dict[str, Any]) -> None:
    proc = demo_stack["proc"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0  # graceful shutdown on SIGTERM
    for script in SCRIPTS:
        result = run_script(script, demo_stack["redis_port"], demo_stack["api"])
        assert result.returncode == 1, result.stdout
        assert "VALIDATION FAILED" in result.stdout
        failed = result.stdout.split("FAILED checks:", 1)[1]
        assert "[6]" in failed and "[7]" in failed  # the /health checks, named
        assert result.stdout.count(" FAIL ") == 8  # Redis is gone with the stack too
