"""The private PostgreSQL cluster: unprivileged owner, data kept across restarts and kills."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from microservices.storage.pg_server import LocalPostgres, find_pg_binary, run_as_user

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_dir() -> Iterator[Path]:
    """A data directory the cluster's unprivileged owner can reach (pytest's tmp_path is
    0700 root)."""
    base = Path(tempfile.mkdtemp(prefix="ce-pg-test-"))
    base.chmod(0o755)
    try:
        yield base / "pg"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_cluster_keeps_rows_across_stop_and_kill(
    local_postgres: Callable[..., LocalPostgres], pg_dir: Path
) -> None:
    data = pg_dir
    server = local_postgres(data_dir=data)
    assert (data / "cluster" / "PG_VERSION").read_text().strip() == "15"
    assert oct((data / "password").stat().st_mode & 0o777) == "0o600"
    account = run_as_user()
    if account is not None:  # as root, the cluster belongs to an unprivileged user
        assert (data / "cluster").stat().st_uid == account.pw_uid != 0
    server.admin_sql("CREATE TABLE kept (x INT); INSERT INTO kept VALUES (7)", "ce")
    server.stop()
    assert not server.running
    server.start()  # reuses the cluster: no second initdb, same password
    assert server.admin_sql("SELECT sum(x) FROM kept", "ce") == "7"
    server.kill()
    server.start()  # crash recovery
    assert server.admin_sql("SELECT sum(x) FROM kept", "ce") == "7"


def test_second_instance_on_same_data_dir_reads_the_password(
    local_postgres: Callable[..., LocalPostgres], pg_dir: Path
) -> None:
    data = pg_dir
    first = local_postgres(data_dir=data)
    url = first.url
    first.stop()
    again = local_postgres(data_dir=data, port=first.port)
    assert again.url == url


@pytest.mark.skipif(os.geteuid() != 0, reason="the unsearchable-parent check applies to root")
def test_unreachable_data_dir_is_refused_with_the_reason(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    server = LocalPostgres(data_dir=private / "pg", fast=True)
    with pytest.raises(RuntimeError, match="not searchable"):
        server.start()


def test_binaries_are_found_off_path() -> None:
    found = find_pg_binary("pg_isready")
    assert found is None or Path(found).name == "pg_isready"
