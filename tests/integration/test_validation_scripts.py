"""The validation scripts, run for real against a live local stack and against a stopped one.

The stack is `cross-exchange run --demo` as a separate process with no REDIS_URL, so this also
checks the all-in-one run: it prints the embedded Redis address, `redis-cli PING` answers, and
within the first seconds /health reports cross-exchange intelligence with all four venues.
Before the scripts run, the features stream gets extra copies of its newest BTCUSDT vector, so
the `/features` answer check 6 reads is as large as after minutes of data (over 200 KB).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis

from microservices.common.redis_server import free_port
from microservices.data_collector import exchanges
from tests.tools import require_tools

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
SCRIPTS = ("validate_phase4m.sh", "validate_phase4m_plus.sh")


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


def run_script(
    name: str, redis_port: int, api: str, *, via_port: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run a script against the stack; `via_port` leaves API_URL unset and sets API_PORT."""
    unset = ("REDIS_URL", "STREAM_PREFIX", "API_URL", "API_PORT")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    if via_port:
        env["API_PORT"] = api.rsplit(":", 1)[1]
    else:
        env["API_URL"] = api
    return subprocess.run(
        ["bash", str(REPO / "scripts" / name)], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def demo_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    require_tools("redis-cli", "curl", "redis-server")
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
    assert set(body["venues"]) == set(exchanges.venue_ids())  # VENUES unset: the demo has all
    assert all(v["books"]["live"] == 3 for v in body["venues"].values())  # BTC, ETH, SOL
    status = subprocess.run(
        ["redis-cli", "-p", str(demo_stack["redis_port"]), "XREVRANGE",
         "quantum:stream:exitbrain.status", "+", "-", "COUNT", "1"],
        capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    for field in ("cross_exchange_active", "atr_multiplier", "tp_multiplier", "sl_multiplier",
                  "use_trailing", "reasoning", "total_reads", "fail_count", "data_age_seconds"):  # fmt: skip
        assert field in status


FEATURES_PATH = "/api/v1/features/BTCUSDT?lookback=60"  # what check 6 of validate_phase4m reads
FEATURES_MIN_BYTES = 200_000


def enlarge_features(redis_port: int, api: str) -> int:
    """Append copies of the newest BTCUSDT feature vector until the /features answer of check 6
    exceeds FEATURES_MIN_BYTES (as it does after minutes of data); returns its size in bytes."""
    client = redis.Redis(port=redis_port)
    stream = "quantum:stream:exchange.features"

    def newest_btc() -> Any:
        rows: Any = client.xrevrange(stream, count=200)
        return next((fields for _, fields in rows if fields.get(b"symbol") == b"BTCUSDT"), None)

    try:
        newest = wait_until(newest_btc, timeout_s=30, what="a BTCUSDT feature vector")
        pipe = client.pipeline(transaction=False)
        for _ in range(600):
            pipe.xadd(stream, newest)
        pipe.execute()
    finally:
        client.close()
    response = httpx.get(api + FEATURES_PATH, timeout=10)
    assert response.status_code == 200
    return len(response.content)


@pytest.mark.parametrize("script", SCRIPTS)
def test_validation_passes_against_the_live_stack(demo_stack: dict[str, Any], script: str) -> None:
    wait_until(lambda: (h := health(demo_stack["api"])) and h["status"] == "ok", 45, "status ok")
    size = enlarge_features(demo_stack["redis_port"], demo_stack["api"])
    assert size > FEATURES_MIN_BYTES
    result = run_script(script, demo_stack["redis_port"], demo_stack["api"], via_port=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" PASS ") == 8
    assert "VALIDATION PASSED" in result.stdout
    port = demo_stack["api"].rsplit(":", 1)[1]
    assert f"api: http://localhost:{port}" in result.stdout  # API_PORT used, API_URL unset


def ask(demo_stack: dict[str, Any], question: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | {"API_URL": demo_stack["api"]}
    done = subprocess.run(
        [sys.executable, "-m", "microservices.cli", "--env-file", "/dev/null", "ask", question,
         "--json"], env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = orjson.loads(done.stdout)
    return answer


def recent_normalized(redis_port: int, symbol: str) -> list[dict[str, str]]:
    """The newest exchange.normalized entries of `symbol`, as redis-cli shows them."""
    client = redis.Redis(port=redis_port, decode_responses=True)
    rows: Any = client.xrevrange("quantum:stream:exchange.normalized", count=400)
    client.close()
    return [fields for _, fields in rows if fields.get("symbol") == symbol]


def test_ask_answers_from_the_live_demo(demo_stack: dict[str, Any]) -> None:
    """`ask "best price for ETH"` ranks the asks of one recent ETHUSDT normalized entry, lowest
    first, and `compare BTC across exchanges` gives every followed venue of one BTCUSDT
    entry its price: both recomputed here from the stream the demo writes."""
    wait_until(lambda: (h := health(demo_stack["api"])) and h["status"] == "ok", 60, "ok")
    best = ask(demo_stack, "best price for ETH")["answer"]["ETHUSDT"]
    ranked = [(v["venue"], v["price"]) for v in best["buy"]["venues"]]
    assert len(ranked) >= 10 and [p for _, p in ranked] == sorted(p for _, p in ranked)
    entries = recent_normalized(demo_stack["redis_port"], "ETHUSDT")
    assert any(
        all(float(e.get(f"{venue}_ask", "nan")) == price for venue, price in ranked)
        for e in entries
    ), ranked
    compare = ask(demo_stack, "compare BTC across exchanges")["answer"]["BTCUSDT"]
    prices = {v["venue"]: v["price"] for v in compare if v["status"] == "ok"}
    assert len(prices) >= 10
    entries = recent_normalized(demo_stack["redis_port"], "BTCUSDT")
    assert any(
        all(float(e.get(f"{venue}_price", "nan")) == price for venue, price in prices.items())
        for e in entries
    ), prices


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
