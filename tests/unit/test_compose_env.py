"""Both compose files hand every settings field to the containers (generated block up to date)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from microservices.common import compose_env
from microservices.common.settings import variables

REPO = Path(__file__).resolve().parents[2]
FILES = tuple(compose_env.REDIS_URLS)
VARS = {name.upper() for name in variables()}


@pytest.mark.parametrize("file", FILES)
def test_compose_file_lists_every_setting(file: str) -> None:
    text = (REPO / file).read_text()
    assert compose_env.render(file, text) == text, (
        f"{file} is out of date: python -m microservices.common.compose_env --write"
    )
    generated = text.split(compose_env.BEGIN, 1)[1].split(compose_env.END, 1)[0]
    listed = re.findall(r"^  ([A-Z0-9_]+): ", generated, flags=re.M)
    assert sorted(listed) == sorted(VARS)
    assert '  AGGREGATOR_MIN_EXCHANGES: "${AGGREGATOR_MIN_EXCHANGES:-2}"' in generated
    assert '  REST_POLL_INTERVAL_S: "${REST_POLL_INTERVAL_S:-60.0}"' in generated


def test_only_container_layout_is_pinned() -> None:
    env = compose_env.environment("docker-compose.yml")
    pinned = {k for k, v in env.items() if not v.startswith("${")}
    assert pinned == {"REDIS_URL", "API_HOST", "REST_HISTORY_DIR", "LISTING_CACHE_DIR",
                      "COLLECTOR_LIVE_FILE", "ML_MODEL_DIR", "DATABASE_URL",
                      "STORE_SPILL_DIR"}  # fmt: skip
    assert env["DATABASE_URL"] == "postgresql://ce:${POSTGRES_PASSWORD:-ce}@postgres:5432/ce"
    assert env["LOG_FORMAT"] == "${LOG_FORMAT:-json}"
    assert env["SYMBOLS"] == "${SYMBOLS:-BTCUSDT,ETHUSDT,SOLUSDT}"
    assert env["CROSS_EXCHANGE_ENABLED"] == "${CROSS_EXCHANGE_ENABLED:-true}"


def test_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    for file in FILES:
        text = (REPO / file).read_text()
        (tmp_path / file).write_text(
            text.replace('  SYMBOLS: "${SYMBOLS:-BTCUSDT,ETHUSDT,SOLUSDT}"\n', "")
        )
    assert compose_env.main([], root=tmp_path) == 1
    assert compose_env.main(["--write"], root=tmp_path) == 0
    assert compose_env.main([], root=tmp_path) == 0
    assert (tmp_path / FILES[0]).read_text() == (REPO / FILES[0]).read_text()
