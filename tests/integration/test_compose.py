"""Both compose files validate with a real compose implementation and match the code.

Uses `docker-compose config` (Debian's docker-compose package; `make test` installs it). No
Docker daemon is needed: `config` only parses, interpolates and validates.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from microservices.common.settings import Settings

REPO = Path(__file__).resolve().parents[2]
APP_ENV_EXTRAS = {"SERVICE_ROLE"}


def compose_config(
    file: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    if shutil.which("docker-compose") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("docker-compose missing in CI: .ci/run must install it")
        pytest.skip("docker-compose not installed (apt-get install docker-compose)")
    full_env = {k: v for k, v in os.environ.items() if k != "REDIS_PASSWORD"} | (env or {})
    return subprocess.run(
        ["docker-compose", "-f", file, "config"], cwd=REPO, env=full_env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def rendered(file: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = compose_config(file, env)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = yaml.safe_load(result.stdout)
    return data


def check_app_services(services: dict[str, Any]) -> None:
    assert set(services) == {"redis", "cross-exchange", "ai-engine"}
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
        known = {field.upper() for field in Settings.model_fields} | APP_ENV_EXTRAS
        assert env_names <= known, env_names - known
        assert service["environment"]["REDIS_URL"].startswith("redis://")
        Settings(
            **{k.lower(): v for k, v in service["environment"].items() if k not in APP_ENV_EXTRAS}
        )
    assert services["ai-engine"]["environment"]["CROSS_EXCHANGE_ENABLED"] == "true"
    assert services["cross-exchange"]["environment"]["SERVICE_ROLE"] == "collector"


def test_local_compose_validates_and_matches_the_cli() -> None:
    services = rendered("docker-compose.yml")["services"]
    check_app_services(services)
    assert services["redis"]["container_name"] == "quantum_redis"
    assert services["cross-exchange"]["container_name"] == "quantum_cross_exchange"
    ports = services["ai-engine"]["ports"]
    assert any(
        str(p.get("published", p) if isinstance(p, dict) else p).find("8001") >= 0 for p in ports
    )


def test_vps_compose_is_hardened() -> None:
    data = rendered("docker-compose.vps.yml", {"REDIS_PASSWORD": "s3cret-for-test"})
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
    assert set(data["volumes"]) == {"redis-data", "history-data"}


def test_vps_compose_refuses_to_start_without_a_password() -> None:
    result = compose_config("docker-compose.vps.yml")
    assert result.returncode != 0
    assert "REDIS_PASSWORD" in result.stderr


def test_dockerfile_runs_as_non_root_with_healthcheck() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert "USER app" in text and "HEALTHCHECK" in text
    assert text.count("FROM ") == 2  # multi-stage
    assert importlib.util.find_spec("microservices.healthcheck") is not None
