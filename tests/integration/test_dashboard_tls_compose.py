"""The `tls` profile of docker-compose.vps.yml renders with a real compose implementation and
puts Caddy (deploy/Caddyfile) in front of the engine, in that profile only.
Caddy itself is not installable here, so the Caddyfile is checked for what it must say."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.integration.test_compose import REPO, compose_config

ENV = {"REDIS_PASSWORD": "x", "POSTGRES_PASSWORD": "y", "DASHBOARD_DOMAIN": "dash.example.com"}


def test_tls_profile_puts_caddy_in_front_of_the_engine() -> None:
    result = compose_config("docker-compose.vps.yml", ENV | {"COMPOSE_PROFILES": "tls"})
    assert result.returncode == 0, result.stderr
    caddy = yaml.safe_load(result.stdout)["services"]["caddy"]
    assert caddy["profiles"] == ["tls"]  # started only with --profile tls
    assert caddy["environment"]["DASHBOARD_DOMAIN"] == "dash.example.com"
    assert {p["target"] for p in caddy["ports"]} == {80, 443}
    # short volume syntax as this compose renders it: source:target[:mode]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in caddy["volumes"]}
    assert Path(mounts["/etc/caddy/Caddyfile"]) == REPO / "deploy" / "Caddyfile"
    caddyfile = (REPO / "deploy" / "Caddyfile").read_text()
    assert "{$DASHBOARD_DOMAIN:localhost} {" in caddyfile
    assert "reverse_proxy ai-engine:{$API_PORT:8001}" in caddyfile
    assert "flush_interval -1" in caddyfile  # Server-Sent Events pass through unbuffered
