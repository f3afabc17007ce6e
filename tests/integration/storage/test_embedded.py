"""`run`'s private PostgreSQL: started and announced without DATABASE_URL, skipped with one,
moved to the fallback directory when the unprivileged owner cannot reach PG_DATA_DIR."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from microservices.storage import embedded
from tests.pg_fixtures import require_postgres

pytestmark = pytest.mark.integration


@pytest.fixture
def reachable_dir() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="ce-pg-embedded-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_started_and_announced(settings_factory: Any, reachable_dir: Path) -> None:
    require_postgres()
    lines: list[str] = []
    settings = settings_factory(pg_data_dir=str(reachable_dir / "pg"))
    server = embedded.start_private_postgres(settings, demo=True, announce=lines.append)
    assert server is not None
    try:
        assert lines[0] == (
            f"embedded postgres listening on 127.0.0.1:{server.port} (data: {reachable_dir / 'pg'})"
        )
        assert f"-p {server.port} -U ce ce_demo" in lines[1]
        assert server.admin_sql("SELECT current_database()", "ce_demo") == "ce_demo"
    finally:
        server.stop()


def test_not_started_with_a_database_or_storage_off(settings_factory: Any) -> None:
    lines: list[str] = []
    with_url = settings_factory(database_url="postgresql://u:p@db:5432/x")
    assert embedded.start_private_postgres(with_url, False, lines.append) is None
    off = settings_factory(store_enabled=False)
    assert embedded.start_private_postgres(off, False, lines.append) is None
    assert lines == []


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the cluster to another user")
def test_unreachable_data_dir_falls_back(
    settings_factory: Any, reachable_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_postgres()
    monkeypatch.setattr(embedded, "FALLBACK_DIR", reachable_dir / "fallback")
    lines: list[str] = []
    private = tmp_path / "home"  # pytest's tmp_path is 0700 root: postgres cannot enter it
    settings = settings_factory(pg_data_dir=str(private / "pg"))
    server = embedded.start_private_postgres(settings, demo=False, announce=lines.append)
    assert server is not None
    try:
        assert lines[0].startswith("PG_DATA_DIR unusable (")
        assert server.data_dir == reachable_dir / "fallback"
        assert lines[1].startswith("embedded postgres listening on 127.0.0.1:")
    finally:
        server.stop()
