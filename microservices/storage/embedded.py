"""The private PostgreSQL of `cross-exchange run` when no DATABASE_URL is set."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from microservices.common.settings import Settings
from microservices.storage.pg_server import LocalPostgres, UnreachableDataDir, postgres_available

DEMO_DATABASE = "ce_demo"  # simulated history never mixes with the live one
# where the cluster goes when the unprivileged owner cannot reach PG_DATA_DIR
FALLBACK_DIR = Path("/var/lib/cross-exchange/postgres")


def start_private_postgres(
    settings: Settings, demo: bool, announce: Callable[[str], None]
) -> LocalPostgres | None:
    """Start the cluster in PG_DATA_DIR and announce it; None (announced) when a database is
    configured, storage is off, or PostgreSQL cannot start here (then `run` has no storage
    and /health says so)."""
    if settings.database_url is not None or not settings.store_enabled:
        return None
    if not postgres_available():
        announce("storage off: PostgreSQL is not installed (apt-get install postgresql)")
        return None
    database = DEMO_DATABASE if demo else "ce"
    server = LocalPostgres(Path(settings.pg_data_dir), database=database)
    try:
        try:
            server.start()
        except UnreachableDataDir as exc:  # e.g. a checkout under /root (0700) run as root
            announce(f"PG_DATA_DIR unusable ({exc}): using {FALLBACK_DIR}")
            server = LocalPostgres(FALLBACK_DIR, database=database)
            server.start()
    except (RuntimeError, OSError) as exc:
        announce(f"storage off: private PostgreSQL did not start: {exc}")
        return None
    announce(f"embedded postgres listening on 127.0.0.1:{server.port} (data: {server.data_dir})")
    announce(f"  inspect: PGPASSWORD=$(cat {server.data_dir}/password) psql -h 127.0.0.1 "
             f"-p {server.port} -U ce {server.database}")  # fmt: skip
    return server
