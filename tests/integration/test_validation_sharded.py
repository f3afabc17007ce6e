"""The validation scripts with STREAM_SHARDS=2 against a real redis-server whose streams are
two shards each (`<stream>:{0}`, `<stream>:{1}`), entries in both: lengths are summed, the
newest entry is the newest of both shards, the consumer group must be on both with its lag
summed. The API the scripts ask is a stub that answers what a healthy engine answers (the
engine over HTTP with shards is tested in test_api_shards.py)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.tools import require_tools

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
HEALTH = {
    "metrics": {"cross_exchange_intelligence": True},
    "cross_exchange_exitbrain_integration": {
        "enabled": True,
        "adapter_stats": {"enabled": True, "use_local_mode": False, "total_reads": 4,
                          "fail_count": 0, "last_update": None},
    },
}  # fmt: skip
FEATURES: dict[str, Any] = {"latest": {name: 1.0 for name in (
    "avg_price", "price_divergence", "funding_delta", "price_momentum", "volatility_spread",
    "binance_bybit_ratio", "hour", "day_of_week", "all_exchanges_active", "num_exchanges")}}  # fmt: skip
NORMALIZED = ("timestamp", "avg_price", "median_price", "price_divergence",
              "exchange_divergence", "funding_delta", "avg_funding_rate", "volatility_factor",
              "num_exchanges", "best_bid", "best_ask", "arb_bps", "excluded")  # fmt: skip
STATUS = ("timestamp", "cross_exchange_active", "data_age_seconds", "volatility_factor",
          "exchange_divergence", "funding_delta", "atr_multiplier", "tp_multiplier",
          "sl_multiplier", "use_trailing", "total_reads", "fail_count")  # fmt: skip


class _Api(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = HEALTH if self.path == "/health" else FEATURES
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def stub_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def fill_shards(client: redis.Redis, prefix: str) -> None:
    """60 raw entries per shard (neither alone passes "> 100"), the aggregator group on both
    with 5 + 7 undelivered, normalized and alerts in both shards (the newest in shard 1),
    features in shard 0, status in shard 1, and the collector's heartbeat."""
    raw = [f"{prefix}exchange.raw:{{{i}}}" for i in (0, 1)]
    for key, behind in zip(raw, (5, 7), strict=True):
        for n in range(60 - behind):
            client.xadd(key, {"n": n})
        client.xgroup_create(key, "aggregator", id="$", entries_read=60 - behind)
        for n in range(behind):
            client.xadd(key, {"n": n})
    for i, symbol in ((0, "ETHUSDT"), (1, "BTCUSDT")):  # BTCUSDT, in shard 1, is the newest
        time.sleep(0.002)
        client.xadd(f"{prefix}exchange.normalized:{{{i}}}",
                    {"symbol": symbol, **dict.fromkeys(NORMALIZED, "1")})  # fmt: skip
        client.xadd(f"{prefix}exitbrain.alerts:{{{i}}}", {"symbol": symbol, "type": "T"})
    client.xadd(f"{prefix}exchange.features:{{0}}", {"symbol": "ETHUSDT", **FEATURES["latest"]})
    client.xadd(f"{prefix}exitbrain.status:{{1}}",
                {"symbol": "BTCUSDT", "reasoning": "ATR×1.10", **dict.fromkeys(STATUS, "1")})  # fmt: skip
    health = f"{prefix}collector.health"
    client.hset(health, "binance", json.dumps({"state": "connected", "records": 9}))
    client.expire(health, 60)


def run(script: str, redis_url: str, api: str, prefix: str, shards: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("API_PORT", "ENV_FILE")}
    env |= {"REDIS_URL": redis_url, "API_URL": api, "STREAM_PREFIX": prefix,
            "STREAM_SHARDS": shards, "ENV_FILE": "/dev/null"}  # fmt: skip
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / script)], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    return f"rc={done.returncode}\n{done.stdout}{done.stderr}"


def line(out: str, number: int) -> str:
    return next(row for row in out.splitlines() if row.startswith(f"[{number}] "))


def test_scripts_read_every_shard(redis_server: Any, stub_api: str) -> None:
    require_tools("redis-cli", "curl")
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    client = redis.Redis.from_url(redis_server.url)
    try:
        fill_shards(client, prefix)
        first = run("validate_phase4m.sh", redis_server.url, stub_api, prefix, "2")
        plus = run("validate_phase4m_plus.sh", redis_server.url, stub_api, prefix, "2")
        client.xgroup_destroy(f"{prefix}exchange.raw:{{1}}", "aggregator")
        missing = run("validate_phase4m.sh", redis_server.url, stub_api, prefix, "2")
        unsharded = run("validate_phase4m.sh", redis_server.url, stub_api, prefix, "1")
    finally:
        client.close()
    assert first.startswith("rc=0") and first.count(" PASS ") == 8, first
    assert f"prefix: {prefix}   shards: 2" in first
    assert line(first, 2).endswith("PASS (length 120)")
    assert line(first, 3).endswith("PASS (group aggregator: pending 0, lag 12 over 2 shards)")
    assert plus.startswith("rc=0") and plus.count(" PASS ") == 8, plus
    assert line(plus, 1).endswith("PASS (type stream on 2/2 shards)")
    assert line(plus, 2).endswith("PASS (length 120)")
    assert line(plus, 3).endswith("PASS (length 2)")
    assert line(plus, 4).endswith("PASS (type stream on 1/2 shards)")
    state = plus.split("latest normalized entry:\n", 1)[1].split("[FAIL-SAFE", 1)[0]
    assert "symbol\tBTCUSDT" in state  # the newest of the two shards
    assert "  2 alert(s); newest:" in plus and "symbol\tBTCUSDT" in plus.split("alert(s)")[1]
    assert line(missing, 3).endswith("FAIL (no aggregator consumer group on shard(s) 1 of 2)")
    # STREAM_SHARDS=1 reads the plain names, which this data does not have
    assert line(unsharded, 2).endswith("FAIL (length 0)")
    assert "shards:" not in unsharded


@pytest.mark.slow
def test_scripts_pass_against_the_demo_with_two_shards(tmp_path: Path) -> None:
    """`run --demo` with STREAM_SHARDS=2 (every stream in two shards), then both scripts with
    STREAM_SHARDS=2: all 16 checks pass, each reading both shards."""
    from tests.integration.dashboard_stack import demo_stack, health
    from tests.integration.test_validation_scripts import wait_until

    require_tools("redis-cli", "curl", "redis-server")
    with demo_stack(tmp_path, STREAM_SHARDS="2") as stack:
        body = wait_until(lambda: (h := health(stack.api)) and h["status"] == "ok" and h, 60, "ok")
        raw = body["streams"]["quantum:stream:exchange.raw"]
        assert set(raw["shards"]) == {"quantum:stream:exchange.raw:{0}",
                                      "quantum:stream:exchange.raw:{1}"}  # fmt: skip
        url = f"redis://127.0.0.1:{stack.redis_port}/0"
        outputs = [run(s, url, stack.api, "quantum:stream:", "2") for s in
                   ("validate_phase4m.sh", "validate_phase4m_plus.sh")]  # fmt: skip
    for out in outputs:
        assert out.startswith("rc=0") and out.count(" PASS ") == 8, out
    assert line(outputs[0], 3).endswith("over 2 shards)")
    assert line(outputs[1], 1).endswith("PASS (type stream on 2/2 shards)")
