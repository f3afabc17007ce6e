"""Both compose files validate with a real compose implementation and match the code.

Uses `docker-compose config` (Debian's docker-compose package; `make test` installs it). No
Docker daemon is needed: `config` only parses, interpolates and validates. Every setting written
in a `.env` beside a compose file reaches both app containers; their healthchecks are liveness.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from microservices.common.settings import Settings, load_settings, variables
from tests.tools import require_tools

REPO = Path(__file__).resolve().parents[2]
APP_ENV_EXTRAS = {"SERVICE_ROLE"}
SETTING_VARS = {name.upper() for name in variables()}
APP_SERVICES = ("cross-exchange", "ai-engine")


def compose_config(
    file: str, env: dict[str, str] | None = None, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    require_tools("docker-compose")
    # the shell outranks .env in compose: no setting of this process may leak into the render
    ignored = SETTING_VARS | {"REDIS_PASSWORD", "POSTGRES_PASSWORD"}
    full_env = {k: v for k, v in os.environ.items() if k not in ignored} | (env or {})
    return subprocess.run(
        ["docker-compose", "-f", file, "config"], cwd=cwd, env=full_env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def rendered(file: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> dict[str, Any]:
    result = compose_config(file, env, cwd)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = yaml.safe_load(result.stdout)
    return data


def rendered_with_dotenv(file: str, dotenv: str, tmp_path: Path) -> dict[str, Any]:
    """`docker-compose config` of `file` with `dotenv` as the .env beside it (as users do)."""
    (tmp_path / file).write_text((REPO / file).read_text())
    (tmp_path / ".env").write_text(dotenv)
    return rendered(file, cwd=tmp_path)


def container_settings(service: dict[str, Any]) -> Settings:
    env = {k.lower(): v for k, v in service["environment"].items() if k not in APP_ENV_EXTRAS}
    return Settings(**env)


def check_app_services(services: dict[str, Any]) -> None:
    always = {name for name, service in services.items() if not service.get("profiles")}
    assert always == {"redis", "postgres", "cross-exchange", "ai-engine"}  # profiles aside
    assert services["ai-engine"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["postgres"]["image"].startswith("postgres:15.")  # the tests' major version
    assert "ports" not in services["postgres"]  # reached over the compose network only
    assert any("/var/lib/postgresql/data" in str(v) for v in services["postgres"]["volumes"])
    commands = {
        "cross-exchange": ["python", "-m", "microservices.data_collector"],
        "ai-engine": ["python", "-m", "microservices.ai_engine"],
    }
    for name, command in commands.items():
        service = services[name]
        assert service["command"] == command
        assert importlib.util.find_spec(command[2] + ".__main__") is not None
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        env_names = set(service["environment"])
        assert env_names == SETTING_VARS | APP_ENV_EXTRAS, env_names ^ (
            SETTING_VARS | APP_ENV_EXTRAS
        )
        assert service["environment"]["REDIS_URL"].startswith("redis://")
        settings = container_settings(service)
        assert settings.api_host == "0.0.0.0"
        assert settings.log_format in ("json", "auto")  # auto: JSON too, containers have no TTY
        assert settings.rest_history_dir == "/data/history"
        # liveness, with a start period: an exchange outage never restarts a container
        check = service["healthcheck"]
        assert check["test"] == ["CMD", "python", "-m", "microservices.healthcheck"]
        assert check["start_period"] == "30s"
    assert services["ai-engine"]["environment"]["CROSS_EXCHANGE_ENABLED"] == "true"
    assert services["ai-engine"]["environment"]["SERVICE_ROLE"] == "engine"
    collector = services["cross-exchange"]["environment"]
    assert collector["SERVICE_ROLE"] == "collector"
    assert collector["COLLECTOR_LIVE_FILE"] == "/tmp/collector.live"
    assert collector["METRICS_PORT"] == "9101"


def test_local_compose_validates_and_matches_the_cli() -> None:
    services = rendered("docker-compose.yml")["services"]
    check_app_services(services)
    for name in APP_SERVICES:  # without a .env every setting is its default, logs are JSON
        settings = container_settings(services[name])
        assert settings.log_format == "json" and settings.aggregator_min_exchanges == 2
    assert services["redis"]["container_name"] == "quantum_redis"
    assert services["cross-exchange"]["container_name"] == "quantum_cross_exchange"
    ports = services["ai-engine"]["ports"]
    assert any(
        str(p.get("published", p) if isinstance(p, dict) else p).find("8001") >= 0 for p in ports
    )


def test_vps_compose_is_hardened() -> None:
    data = rendered(
        "docker-compose.vps.yml",
        {"REDIS_PASSWORD": "s3cret-for-test", "POSTGRES_PASSWORD": "pg-s3cret"},
    )
    services = data["services"]
    check_app_services(services)
    redis = services["redis"]
    assert "ports" not in redis  # never published on a host interface
    command = " ".join(redis["command"])
    assert "--requirepass" in command and "--appendfsync everysec" in command
    assert "--appendonly yes" in command
    assert services["cross-exchange"]["environment"]["REDIS_URL"] == (
        "redis://:s3cret-for-test@redis:6379/0"
    )
    limits = services["cross-exchange"]["deploy"]["resources"]["limits"]
    assert float(limits["cpus"]) == 0.3 and limits["memory"] in ("256M", "256m", 268435456)
    for name in ("redis", "cross-exchange", "ai-engine"):
        assert services[name]["restart"] == "unless-stopped"
        assert services[name]["logging"]["options"]["max-size"] == "10m"
    for name in ("cross-exchange", "ai-engine"):
        assert services[name]["read_only"] is True
    api_ports = services["ai-engine"]["ports"]
    assert all("127.0.0.1" in str(p) for p in api_ports)
    assert {"redis-data", "history-data", "listings-data"} <= set(data["volumes"])
    assert {"postgres-data", "store-spill"} <= set(data["volumes"])
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "pg-s3cret"
    assert services["ai-engine"]["environment"]["DATABASE_URL"] == (
        "postgresql://ce:pg-s3cret@postgres:5432/ce"
    )


@pytest.mark.parametrize("file", ["docker-compose.yml", "docker-compose.vps.yml"])
def test_every_setting_of_dotenv_reaches_both_containers(file: str, tmp_path: Path) -> None:
    dotenv = (
        "AGGREGATOR_MIN_EXCHANGES=3\nREST_POLL_INTERVAL_S=15\nSYMBOLS=BTCUSDT,ETHUSDT\n"
        "LOG_LEVEL=DEBUG\nEXITBRAIN_TP_COEF=0.5\nAPI_PORT=8002\nREDIS_PASSWORD=pw-for-test\n"
        "POSTGRES_PASSWORD=pg-for-test\n"
    )
    services = rendered_with_dotenv(file, dotenv, tmp_path)["services"]
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["AGGREGATOR_MIN_EXCHANGES"] == "3"
        assert env["REST_POLL_INTERVAL_S"] == "15"
        settings = container_settings(services[name])
        assert settings.aggregator_min_exchanges == 3
        assert settings.rest_poll_interval_s == 15.0
        assert settings.symbols == ["BTCUSDT", "ETHUSDT"]
        assert settings.log_level == "DEBUG" and settings.exitbrain_tp_coef == 0.5
        assert settings.api_port == 8002
    assert any("8002:8002" in str(port) for port in services["ai-engine"]["ports"])


@pytest.mark.parametrize("file", ["docker-compose.yml", "docker-compose.vps.yml"])
def test_env_example_copied_to_dotenv_keeps_the_container_layout(file: str, tmp_path: Path) -> None:
    """`cp .env.example .env` (README, deploy step 2) sets API_HOST=127.0.0.1, REDIS_URL= and a
    relative REST_HISTORY_DIR: the containers keep their own values for those four."""
    dotenv = (REPO / ".env.example").read_text() + (
        "REDIS_PASSWORD=pw-for-test\nPOSTGRES_PASSWORD=pg-for-test\n"
    )
    services = rendered_with_dotenv(file, dotenv, tmp_path)["services"]
    check_app_services(services)
    defaults = load_settings(env_file=None)
    layout = {"redis_url", "api_host", "rest_history_dir", "listing_cache_dir",
              "collector_live_file", "log_format", "ml_model_dir", "database_url",
              "store_spill_dir"}  # fmt: skip
    for name in APP_SERVICES:
        settings = container_settings(services[name])
        differ = {f for f in Settings.model_fields if getattr(settings, f) != getattr(defaults, f)}
        assert differ - {"metrics_port"} <= layout, differ


def test_vps_compose_refuses_to_start_without_a_password() -> None:
    result = compose_config("docker-compose.vps.yml")
    assert result.returncode != 0
    assert "REDIS_PASSWORD" in result.stderr


def test_dockerfile_runs_as_non_root_with_healthcheck() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert "USER app" in text and "HEALTHCHECK" in text
    assert text.count("FROM ") == 2  # multi-stage
    assert importlib.util.find_spec("microservices.healthcheck") is not None


def test_vps_compose_refuses_to_start_without_a_database_password() -> None:
    result = compose_config("docker-compose.vps.yml", {"REDIS_PASSWORD": "s3cret-for-test"})
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


# --- the `cluster` profile (issue 19): three Redis Cluster nodes, a one-shot init, and the
# override file that points the app at them
CLUSTER_NODES = ("redis-node-1", "redis-node-2", "redis-node-3")


def rendered_cluster() -> dict[str, Any]:
    require_tools("docker-compose")
    result = subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", "-f", "docker-compose.cluster.yml",
         "--profile", "cluster", "config"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if k not in SETTING_VARS},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = yaml.safe_load(result.stdout)
    return data


def test_cluster_profile_validates_and_points_the_app_at_the_cluster() -> None:
    services = rendered_cluster()["services"]
    plain = rendered("docker-compose.yml")["services"]
    for name in (*CLUSTER_NODES, "redis-cluster-init"):
        assert services[name]["profiles"] == ["cluster"]
        assert plain[name]["profiles"] == ["cluster"]  # nothing starts without the profile
    for name in CLUSTER_NODES:
        node = services[name]
        command = node["command"]
        assert command[0] == "redis-server"
        options = dict(zip(command[1::2], command[2::2], strict=True))
        assert options["--cluster-enabled"] == "yes" and options["--port"] == "6379"
        assert options["--cluster-announce-hostname"] == name == node["hostname"]
        assert options["--cluster-preferred-endpoint-type"] == "hostname"
        assert options["--appendonly"] == "no" and options["--save"] == ""
        assert node["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
        assert node["restart"] == "unless-stopped" and "ports" not in node
    init = services["redis-cluster-init"]
    assert init["restart"] == "no" and init["entrypoint"] == ["sh", "-c"]
    assert init["depends_on"] == {n: {"condition": "service_healthy"} for n in CLUSTER_NODES}
    script = init["command"][0]
    assert "--cluster create redis-node-1:6379 redis-node-2:6379 redis-node-3:6379" in script
    assert "--cluster-replicas 0 --cluster-yes" in script
    for name in APP_SERVICES:
        app = services[name]
        assert app["environment"]["REDIS_URL"] == "redis://redis-node-1:6379/0"
        assert container_settings(app).redis_cluster is True
        assert app["depends_on"]["redis-cluster-init"]["condition"] == (
            "service_completed_successfully"
        )
        assert plain[name]["environment"]["REDIS_CLUSTER"] == "false"  # without the override


def test_cluster_init_creates_the_cluster_once(tmp_path: Path) -> None:
    """The init service's script, run against three fresh local nodes (a `redis-cli` wrapper
    maps the compose hostnames to their loopback ports): it creates the cluster and waits for
    it; run again, it sees the cluster ok and creates nothing."""
    require_tools("redis-server", "redis-cli")
    from tests.redis_cluster import LocalRedisCluster

    script = rendered_cluster()["services"]["redis-cluster-init"]["command"][0]
    script = script.replace("$$", "$")  # compose's escape, undone when the container runs
    nodes = LocalRedisCluster(workdir=tmp_path / "nodes")
    (tmp_path / "nodes").mkdir()
    wrapper = tmp_path / "bin" / "redis-cli"
    wrapper.parent.mkdir()
    ports = dict(zip(CLUSTER_NODES, nodes.ports, strict=True))
    wrapper.write_text(REDIS_CLI_WRAPPER.format(ports=ports, real=shutil.which("redis-cli")))
    wrapper.chmod(0o755)
    env = os.environ | {"PATH": f"{wrapper.parent}:{os.environ['PATH']}"}
    try:
        for port in nodes.ports:
            nodes.start_node(port)
        first = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True,
                               timeout=120)  # fmt: skip
        assert first.returncode == 0, first.stdout + first.stderr
        assert "All 16384 slots covered" in first.stdout
        assert first.stdout.rstrip().endswith("redis cluster ok")
        nodes.wait_ready(timeout_s=5)
        again = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True,
                               timeout=60)  # fmt: skip
        assert again.returncode == 0, again.stderr
        assert again.stdout.split() == [
            "redis",
            "cluster",
            "already",
            "created",
            "redis",
            "cluster",
            "ok",
        ]
    finally:
        nodes.stop()


REDIS_CLI_WRAPPER = f"""#!{sys.executable}
import os, sys
ports = {{ports}}
args, out, host = sys.argv[1:], [], None
for i, arg in enumerate(args):
    if arg in ports and i and args[i - 1] == "-h":
        host, arg = arg, "127.0.0.1"
    elif arg == "6379" and host and i and args[i - 1] == "-p":
        arg = str(ports[host])
    for name, port in ports.items():
        arg = arg.replace(name + ":6379", "127.0.0.1:" + str(port))
    out.append(arg)
os.execv("{{real}}", ["redis-cli", *out])
"""
