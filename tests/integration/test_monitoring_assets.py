"""The Prometheus and Grafana assets (deploy/) are valid and name only real metrics.

promtool (Debian's `prometheus` package) checks the config and the rules and runs the rules'
unit tests (deploy/prometheus/rules_test.yml). Grafana is not installable here, so its
dashboard JSON and provisioning are checked for structure. Every `ce_*` name a rule or a panel
uses must appear in the `/metrics` answer of a running `cross-exchange run --demo` (one process:
the collector's metrics and the engine's in one registry).
"""

from __future__ import annotations

import json
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
import pytest
import yaml

from microservices.common.redis_server import free_port
from tests.tools import require_tools

REPO = Path(__file__).resolve().parents[2]
PROM = REPO / "deploy" / "prometheus"
GRAFANA = REPO / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "cross-exchange.json"
METRIC = re.compile(r"\b(ce_[a-z0-9_]+)")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    require_tools("promtool")
    return subprocess.run(["promtool", *args], cwd=PROM, capture_output=True, text=True, timeout=60)


def test_promtool_accepts_config_and_rules() -> None:
    config = promtool("check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr
    rules = promtool("check", "rules", "rules.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS: 9 rules found" in rules.stdout


def test_rules_fire_on_synthetic_series() -> None:
    result = promtool("test", "rules", "rules_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def rule_exprs() -> list[str]:
    data = yaml.safe_load((PROM / "rules.yml").read_text())
    return [rule["expr"] for group in data["groups"] for rule in group["rules"]]


def panel_exprs() -> list[str]:
    data = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in data["panels"] if p["type"] != "row" for t in p["targets"]]


def test_rules_cover_the_issue_alerts() -> None:
    data = yaml.safe_load((PROM / "rules.yml").read_text())
    names = {rule["alert"] for group in data["groups"] for rule in group["rules"]}
    assert {"VenueDown", "ExitBrainLocalMode", "ConsumerLagHigh", "ProducerDroppingRecords",
            "RedisMemoryHigh"} <= names  # fmt: skip
    for group in data["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("warning", "critical")
            assert rule["annotations"]["summary"]


def test_grafana_dashboard_is_well_formed() -> None:
    data = json.loads(DASHBOARD.read_text())
    datasource = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"][0]
    assert datasource["type"] == "prometheus" and datasource["url"] == "http://prometheus:9090"
    assert data["uid"] and data["title"] and isinstance(data["schemaVersion"], int)
    ids = [p["id"] for p in data["panels"]]
    assert len(ids) == len(set(ids))
    graphs = [p for p in data["panels"] if p["type"] != "row"]
    assert len(graphs) >= 20
    for panel in data["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24 and pos["h"] > 0
    for panel in graphs:
        assert panel["type"] in ("timeseries", "stat") and panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": datasource["uid"]}
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert panel["targets"] and len(ref_ids) == len(set(ref_ids))
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == datasource["uid"]
            assert METRIC.search(target["expr"]), target["expr"]
    titles = " ".join(p["title"] for p in graphs).lower()
    for topic in ("connected", "records/s", "p95", "lag", "drops", "local mode", "redis memory",
                  "resyncs", "delivery"):  # fmt: skip
        assert topic in titles, topic


def test_grafana_provider_reads_the_mounted_dashboards() -> None:
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "provider.yml").read_text()
    )["providers"][0]
    path = provider["options"]["path"]
    for file in ("docker-compose.yml", "docker-compose.vps.yml"):
        compose = yaml.safe_load((REPO / file).read_text())
        for name in ("prometheus", "grafana"):
            service = compose["services"][name]
            assert service["profiles"] == ["monitoring"]
            image, _, tag = service["image"].partition(":")
            assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), image  # pinned
            assert all(str(p).startswith("127.0.0.1:") for p in service["ports"])
        mounts = compose["services"]["grafana"]["volumes"]
        assert f"./deploy/grafana/dashboards:{path}:ro" in mounts
        assert (
            "./deploy/prometheus:/etc/prometheus:ro" in compose["services"]["prometheus"]["volumes"]
        )


def exposed_names(text: str) -> set[str]:
    """Metric names of a Prometheus text exposition, histogram series names included."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()[:4]
            names.add(name)
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


@pytest.fixture(scope="module")
def demo_metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`/metrics` of `cross-exchange run --demo` once records flow through it."""
    require_tools("redis-server")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "ALERT_TARGETS")}
    # one symbol and no PostgreSQL writer: the metric families exist whatever flows
    env |= {
        "API_PORT": str(port),
        "LOG_FORMAT": "json",
        "SYMBOLS": "BTCUSDT",
        "STORE_ENABLED": "false",
    }
    workdir = tmp_path_factory.mktemp("monitoring")
    with (workdir / "stderr.log").open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "microservices.cli", "--env-file", "/dev/null", "run",
             "--demo", "--no-view"],
            cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
        try:
            yield wait_for_records(f"http://127.0.0.1:{port}/metrics", proc)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


def wait_for_records(url: str, proc: subprocess.Popen[Any]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            text = httpx.get(url, timeout=5).text
        except httpx.TransportError:
            text = ""
        if "ce_ws_records_total{" in text and "ce_consumer_lag{" in text:
            return text
        time.sleep(0.5)
    raise AssertionError(f"no records in {url} within 60 s (exit code {proc.poll()})")


@pytest.mark.integration
@pytest.mark.slow
def test_rules_and_panels_use_only_exposed_metrics(demo_metrics: str) -> None:
    exposed = exposed_names(demo_metrics)
    used = {name for expr in rule_exprs() + panel_exprs() for name in METRIC.findall(expr)}
    assert len(used) >= 30
    assert used - exposed == set()
    used_memory = re.search(r"^ce_redis_used_memory_bytes (\S+)$", demo_metrics, re.M)
    assert used_memory and float(used_memory.group(1)) > 0  # sampled from INFO memory


def test_exposed_names_counts_histogram_series() -> None:
    text = (
        "# HELP ce_h_seconds d\n# TYPE ce_h_seconds histogram\n"
        "# HELP ce_c_total d\n# TYPE ce_c_total counter\n"
        'ce_c_total{a="b"} 3.0\nce_g 1.0\n'
    )
    assert exposed_names(text) == {
        "ce_h_seconds", "ce_h_seconds_bucket", "ce_h_seconds_sum", "ce_h_seconds_count",
        "ce_c_total", "ce_g",
    }  # fmt: skip
