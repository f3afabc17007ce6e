"""The query API's connection pool: opened on the first request, reopened after a failure.

Without DATABASE_URL every query answers 503 saying so; an unreachable database answers 503
with the error's class (the pool is retried on the next request, at most every few seconds).
Queries run with a statement timeout, so a slow query cannot hold a connection for long.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any, Final

import asyncpg
from fastapi import HTTPException

logger = logging.getLogger(__name__)
CONNECT_TIMEOUT_S: Final = 3.0
STATEMENT_TIMEOUT_MS: Final = 10_000
RETRY_AFTER_S: Final = 2.0
POOL_MAX: Final = 4
# documented on every route that reads the database (OpenAPI `responses`)
UNAVAILABLE: Final[dict[int | str, dict[str, Any]]] = {
    503: {"description": "no database configured (DATABASE_URL), or it does not answer"}
}
NO_DATABASE: Final = (
    "no database configured: set DATABASE_URL (postgresql://...); `cross-exchange run` "
    "starts a private PostgreSQL when it is unset"
)
DB_ERRORS: Final = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class QueryDb:
    def __init__(self, url: str | None) -> None:
        self.url = url
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        self._failed_at = 0.0
        self._last_error = ""

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        """Rows as dicts; HTTP 503 without a database or when it does not answer."""
        pool = await self._get_pool()
        try:
            async with pool.acquire(timeout=CONNECT_TIMEOUT_S) as conn:
                rows = await conn.fetch(sql, *params)
        except DB_ERRORS as exc:
            if isinstance(exc, OSError | asyncpg.InterfaceError):
                await self._drop_pool()
            logger.warning("query_db.failed", extra={"error": repr(exc)[:200]})
            raise HTTPException(503, f"database unavailable: {type(exc).__name__}") from exc
        return [dict(row) for row in rows]

    async def _get_pool(self) -> asyncpg.Pool:
        if self.url is None:
            raise HTTPException(503, NO_DATABASE)
        if self._pool is not None:
            return self._pool
        async with self._lock:
            if self._pool is not None:
                return self._pool
            if time.monotonic() - self._failed_at < RETRY_AFTER_S:
                raise HTTPException(503, f"database unavailable: {self._last_error}")
            try:
                self._pool = await asyncpg.create_pool(
                    self.url, min_size=1, max_size=POOL_MAX, timeout=CONNECT_TIMEOUT_S,
                    server_settings={"statement_timeout": str(STATEMENT_TIMEOUT_MS),
                                     "application_name": "ce-query-api"},
                )  # fmt: skip
            except DB_ERRORS as exc:
                self._failed_at = time.monotonic()
                self._last_error = type(exc).__name__
                logger.warning("query_db.unavailable", extra={"error": repr(exc)[:200]})
                raise HTTPException(503, f"database unavailable: {self._last_error}") from exc
            return self._pool

    async def _drop_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.terminate()

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
