"""PostgreSQL fixtures (imported by tests/conftest.py): a real PostgreSQL 15 for the tests.

`pg_server` starts one private cluster per session (`LocalPostgres`: initdb on a free loopback
port, as an unprivileged user when we are root, fsync off) and migrates a template database
once. `pg_url` gives each test a fresh database copied from that template (CREATE DATABASE
... TEMPLATE, ~50 ms) and drops it afterwards, so tests never see each other's rows.
`local_postgres` starts private clusters for fault tests that stop or kill the server.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from microservices.storage.migrate import migrate_url
from microservices.storage.pg_server import LocalPostgres, postgres_available
from tests.tools import require_installed

TEMPLATE_DB = "ce_template"


def require_postgres() -> None:
    """Fail (CI=true) or skip unless initdb, postgres and psql are installed."""
    require_installed("postgresql", postgres_available(), "postgresql")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[LocalPostgres]:
    require_postgres()
    server = LocalPostgres(database=TEMPLATE_DB, fast=True)
    try:
        server.start()
        asyncio.run(migrate_url(server.url))
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def pg_url(pg_server: LocalPostgres) -> Iterator[str]:
    """A fresh, migrated database of the session cluster: its asyncpg/libpq URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = pg_server.create_database(name, template=TEMPLATE_DB)
    try:
        yield url
    finally:
        pg_server.drop_database(name)


@pytest.fixture
def local_postgres() -> Iterator[Callable[..., LocalPostgres]]:
    """Start private clusters (`local_postgres(data_dir=...)`), each removed at teardown."""
    require_postgres()
    started: list[LocalPostgres] = []

    def start(**kwargs: Any) -> LocalPostgres:
        server = LocalPostgres(fast=True, **kwargs)
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in started:
            server.cleanup()
