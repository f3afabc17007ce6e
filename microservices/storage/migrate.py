"""Versioned SQL migrations, applied at start.

`migrations/NNNN_name.sql` files run in version order, each in its own transaction, and each
is recorded in `schema_migrations` (version, name, sha256, applied_at) in that transaction, so
a crash mid-migration leaves the database at the previous version. A session advisory lock
serialises concurrent starts (the writer and the API may start together). An applied file
whose text changed is refused (a migration is never edited once released; add a new one).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import asyncpg

logger = logging.getLogger(__name__)

MIGRATIONS_DIR: Final = Path(__file__).with_name("migrations")
FILE_RE: Final = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
LOCK_KEY: Final = 0x43455F53544F5245  # "CE_STORE": pg_advisory_lock key of the migrator

CREATE_LEDGER: Final = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
)
"""


class MigrationError(RuntimeError):
    """The migration files or the database's ledger are inconsistent."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in version order; a stray file or a duplicate version is an error."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.iterdir()):
        if path.suffix != ".sql":
            continue
        match = FILE_RE.match(path.name)
        if match is None:
            raise MigrationError(f"migration file name {path.name!r} is not NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"two migrations with version {version}")
        found[version] = Migration(version, match.group(2), path.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def pending(migrations: list[Migration], applied: dict[int, str]) -> list[Migration]:
    """The migrations still to apply, given {version: sha256} of the applied ones."""
    todo = []
    for migration in migrations:
        digest = applied.get(migration.version)
        if digest is None:
            todo.append(migration)
        elif digest != migration.sha256:
            raise MigrationError(
                f"migration {migration.version:04d}_{migration.name} changed after it was "
                "applied; add a new migration instead of editing a released one"
            )
    return todo


async def migrate(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply the pending migrations; returns the versions applied now (empty: up to date)."""
    migrations = load_migrations(directory)
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    try:
        await conn.execute(CREATE_LEDGER)
        rows = await conn.fetch("SELECT version, sha256 FROM schema_migrations")
        todo = pending(migrations, {int(r["version"]): str(r["sha256"]) for r in rows})
        for migration in todo:
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, sha256) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.sha256,
                )
            logger.info(
                "storage.migrated",
                extra={"version": migration.version, "migration": migration.name},
            )
        return [m.version for m in todo]
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)


async def migrate_url(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[int]:
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn, directory)
    finally:
        await conn.close()
