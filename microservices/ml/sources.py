"""Where training features come from, behind one small interface: `load(symbols, start_ms,
end_ms) -> DataFrame` with columns symbol, ts_ms and the feature names.

- GeneratedSource: the synthetic generator (planted lead-lag or noise), no I/O.
- ParquetSource: a file written by `cross-exchange export-features` (or any frame with those
  columns; `timestamp` in seconds is accepted instead of ts_ms).
- PostgresSource: the storage layer's `features` table (DATABASE_URL), read with psycopg.
- PrivatePostgresSource: the cluster `cross-exchange run` keeps in PG_DATA_DIR when no
  DATABASE_URL is set, started for the read and stopped after.
Time bounds are [start_ms, end_ms); None means unbounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from microservices.common.derived_schemas import FEATURE_NAMES
from microservices.ml.generator import GeneratorConfig, generate_features


class FeatureSource(Protocol):
    def load(
        self, symbols: Sequence[str] | None, start_ms: int | None, end_ms: int | None
    ) -> pd.DataFrame: ...


def _bounded(
    frame: pd.DataFrame, symbols: Sequence[str] | None, start_ms: int | None, end_ms: int | None
) -> pd.DataFrame:
    keep = pd.Series(True, index=frame.index)
    if symbols:
        keep &= frame["symbol"].isin([s.upper() for s in symbols])
    if start_ms is not None:
        keep &= frame["ts_ms"] >= start_ms
    if end_ms is not None:
        keep &= frame["ts_ms"] < end_ms
    return frame.loc[keep].reset_index(drop=True)


class GeneratedSource:
    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config

    def load(
        self, symbols: Sequence[str] | None, start_ms: int | None, end_ms: int | None
    ) -> pd.DataFrame:
        return _bounded(generate_features(self.config), None, start_ms, end_ms)


class ParquetSource:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(
        self, symbols: Sequence[str] | None, start_ms: int | None, end_ms: int | None
    ) -> pd.DataFrame:
        frame = pd.read_parquet(self.path)
        if "ts_ms" not in frame.columns and "timestamp" in frame.columns:
            frame["ts_ms"] = (frame["timestamp"].astype(float) * 1000).round().astype(np.int64)
        missing = {"symbol", "ts_ms", "avg_price"} - set(frame.columns)
        if missing:
            raise ValueError(f"{self.path}: missing columns {', '.join(sorted(missing))}")
        return _bounded(frame, symbols, start_ms, end_ms)


class PostgresSource:
    def __init__(self, url: str) -> None:
        self.url = url.replace("postgresql+psycopg://", "postgresql://", 1)

    def load(
        self, symbols: Sequence[str] | None, start_ms: int | None, end_ms: int | None
    ) -> pd.DataFrame:
        import psycopg

        sql = ["SELECT symbol, (extract(epoch FROM timestamp) * 1000)::bigint AS ts_ms, "
               + ", ".join(FEATURE_NAMES) + " FROM features WHERE true"]  # fmt: skip
        args: list[object] = []
        if symbols:
            sql.append("AND symbol = ANY(%s)")
            args.append([s.upper() for s in symbols])
        if start_ms is not None:
            sql.append("AND timestamp >= to_timestamp(%s / 1000.0)")
            args.append(start_ms)
        if end_ms is not None:
            sql.append("AND timestamp < to_timestamp(%s / 1000.0)")
            args.append(end_ms)
        sql.append("ORDER BY timestamp, symbol")
        try:
            with psycopg.connect(self.url) as conn, conn.cursor() as cur:
                cur.execute(" ".join(sql), args)
                rows = cur.fetchall()
        except psycopg.Error as exc:
            raise ValueError(f"PostgreSQL: {str(exc).strip()[:300]}") from None
        frame = pd.DataFrame(rows, columns=["symbol", "ts_ms", *FEATURE_NAMES])
        frame["ts_ms"] = frame["ts_ms"].astype(np.int64)
        for name in FEATURE_NAMES:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
        return frame


class PrivatePostgresSource:
    def __init__(self, data_dir: Path, database: str) -> None:
        self.data_dir, self.database = data_dir, database

    def load(
        self, symbols: Sequence[str] | None, start_ms: int | None, end_ms: int | None
    ) -> pd.DataFrame:
        from microservices.storage.pg_server import LocalPostgres

        if not (self.data_dir / "cluster" / "PG_VERSION").is_file():
            raise ValueError(f"no PostgreSQL cluster in {self.data_dir} (PG_DATA_DIR): run "
                             "`cross-exchange run` first, or set DATABASE_URL")  # fmt: skip
        server = LocalPostgres(self.data_dir, database=self.database)
        try:
            server.start()
        except (RuntimeError, OSError) as exc:
            server.stop()
            why = f"(is `cross-exchange run` still using it?): {exc}"
            raise ValueError(
                f"the private PostgreSQL in {self.data_dir} did not start {why}"
            ) from None
        try:
            return PostgresSource(server.url).load(symbols, start_ms, end_ms)
        finally:
            server.stop()
