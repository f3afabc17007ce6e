"""Migrations against a real PostgreSQL: applied once, idempotent, refused when edited."""

from __future__ import annotations

import shutil
from pathlib import Path

import asyncpg
import pytest

from microservices.common.derived_schemas import FEATURE_NAMES
from microservices.storage.migrate import (
    MIGRATIONS_DIR,
    MigrationError,
    load_migrations,
    migrate,
    pending,
)
from microservices.storage.pg_server import LocalPostgres

pytestmark = pytest.mark.integration

SEED_INDEXES = {  # seed 002, per table
    "exchange_orderbooks": {
        "idx_exchange_orderbooks_exchange_symbol",
        "idx_exchange_orderbooks_timestamp",
        "idx_exchange_orderbooks_symbol",
    },
    "large_trades": {
        "idx_large_trades_exchange_symbol",
        "idx_large_trades_timestamp",
        "idx_large_trades_value",
        "idx_large_trades_liquidation",
        "idx_large_trades_symbol_timestamp",
    },
    "funding_rates": {
        "idx_funding_rates_exchange_symbol",
        "idx_funding_rates_timestamp",
        "idx_funding_rates_symbol_timestamp",
        "idx_funding_rates_rate",
    },
    "open_interest": {
        "idx_open_interest_exchange_symbol",
        "idx_open_interest_timestamp",
        "idx_open_interest_symbol_timestamp",
        "idx_open_interest_value",
    },
}
TABLES = {
    *SEED_INDEXES, "ohlc", "normalized", "features", "exitbrain_status", "exitbrain_alerts",
    "schema_migrations",
}  # fmt: skip


async def test_fresh_database_migrates_once_and_then_is_up_to_date(
    pg_server: LocalPostgres,
) -> None:
    url = pg_server.create_database("t_fresh_migrate")
    try:
        conn = await asyncpg.connect(url)
        try:
            assert await migrate(conn) == [1, 2]
            assert await migrate(conn) == []  # idempotent: nothing applied twice
            rows = await conn.fetch("SELECT version, name FROM schema_migrations")
            assert [(r["version"], r["name"]) for r in sorted(rows)] == [
                (1, "seed_tables"), (2, "query_indexes"),
            ]  # fmt: skip
            tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            assert {r["tablename"] for r in tables} == TABLES
        finally:
            await conn.close()
    finally:
        pg_server.drop_database("t_fresh_migrate")


async def test_seed_indexes_and_keys_exist(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        for table, wanted in SEED_INDEXES.items():
            rows = await conn.fetch("SELECT indexname FROM pg_indexes WHERE tablename = $1", table)
            names = {r["indexname"] for r in rows}
            assert wanted <= names, table
            assert f"{table}_pkey" in names
        count = sum(len(v) for v in SEED_INDEXES.values())
        assert count == 16  # the issue counts 16 (the seed's summary says 18)
    finally:
        await conn.close()


async def test_features_table_has_a_column_per_feature(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        rows = await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'features'"
        )
        columns = {r["column_name"] for r in rows}
        assert set(FEATURE_NAMES) <= columns  # a new feature needs a migration adding it
        assert {"symbol", "timestamp"} <= columns
    finally:
        await conn.close()


async def test_an_edited_applied_migration_is_refused(pg_url: str, tmp_path: Path) -> None:
    edited = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, edited)
    first = edited / "0001_seed_tables.sql"
    first.write_text(first.read_text() + "\n-- edited\n")
    conn = await asyncpg.connect(pg_url)
    try:
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn, edited)
    finally:
        await conn.close()


async def test_a_failing_migration_rolls_back_entirely(pg_url: str, tmp_path: Path) -> None:
    extra = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, extra)
    latest = load_migrations()[-1].version
    (extra / f"{latest + 1:04d}_broken.sql").write_text(
        "CREATE TABLE half_done (x INT);\nSELECT no_such_function();\n"
    )
    conn = await asyncpg.connect(pg_url)
    try:
        with pytest.raises(asyncpg.PostgresError):
            await migrate(conn, extra)
        assert await conn.fetchval("SELECT to_regclass('half_done')") is None
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == latest
    finally:
        await conn.close()


def test_file_names_and_versions_are_checked(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0001_b.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="two migrations with version 1"):
        load_migrations(tmp_path)
    (tmp_path / "0001_b.sql").unlink()
    (tmp_path / "2_bad.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"not NNNN_name\.sql"):
        load_migrations(tmp_path)


def test_pending_keeps_order_and_skips_applied() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == [1, 2]
    assert pending(migrations, {}) == migrations
    assert pending(migrations, {1: migrations[0].sha256}) == migrations[1:]
    assert pending(migrations, {m.version: m.sha256 for m in migrations}) == []
