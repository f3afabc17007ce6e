"""Training data from the real stores: the PostgreSQL `features` table (a real PostgreSQL 15
cluster), Optuna studies persisted in that database, and `export-features` from a real
redis-server's exchange.features into Parquet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from microservices.cli import main
from microservices.common.derived_schemas import FEATURE_NAMES
from microservices.common.producer import StreamProducer
from microservices.common.records import FeatureVector
from microservices.common.settings import Settings
from microservices.ml.dataset import DEFAULT_FEATURES, LabelConfig, build_dataset
from microservices.ml.generator import GeneratorConfig, generate_features
from microservices.ml.sources import ParquetSource, PostgresSource
from microservices.ml.tuning import HyperparameterOptimizer, storage_url

pytestmark = pytest.mark.integration
pytest.importorskip("lightgbm")
psycopg = pytest.importorskip("psycopg")


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate_features(GeneratorConfig(rows=3_000, lag_steps=5, seed=5))


def _insert(url: str, frame: pd.DataFrame) -> None:
    columns = ", ".join(["symbol", "timestamp", *FEATURE_NAMES])
    marks = ", ".join(["%s", "to_timestamp(%s / 1000.0)"] + ["%s"] * len(FEATURE_NAMES))
    rows = [(r["symbol"], int(r["ts_ms"]), *(float(r[n]) for n in FEATURE_NAMES))
            for r in frame.to_dict("records")]  # fmt: skip
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.executemany(f"INSERT INTO features ({columns}) VALUES ({marks})", rows)


def test_train_reads_the_features_table(
    pg_url: str, frame: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _insert(pg_url, frame)
    loaded = PostgresSource(pg_url).load(["btcusdt"], None, None)
    pd.testing.assert_frame_equal(loaded, frame, check_dtype=False)
    window = PostgresSource(pg_url).load(None, int(frame["ts_ms"][100]), int(frame["ts_ms"][200]))
    assert window["ts_ms"].tolist() == frame["ts_ms"][100:200].tolist()
    assert PostgresSource(pg_url).load(["ETHUSDT"], None, None).empty

    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("ML_MODEL_DIR", str(tmp_path / "models"))
    (tmp_path / "empty.env").write_text("")
    assert main(["--env-file", str(tmp_path / "empty.env"), "train", "--label", "sign",
                 "--horizon", "5s", "--rounds", "40", "--no-meta"]) == 0  # fmt: skip
    meta = json.loads((tmp_path / "models/versions/v0001/metadata.json").read_text())
    assert meta["source"] == "postgresql:features" and meta["training_window"]["rows"] == 2995


def test_optuna_study_lives_in_postgresql(pg_url: str, frame: pd.DataFrame, tmp_path: Path) -> None:
    data = build_dataset(frame, LabelConfig(kind="sign", horizon_ms=5_000))
    url = storage_url("", pg_url, tmp_path)
    assert url.startswith("postgresql+psycopg://")
    x, y = data[list(DEFAULT_FEATURES)], data["label"].to_numpy()
    tuner = HyperparameterOptimizer("pg_study", url, n_trials=2, base_params={"num_threads": 1})
    tuner.optimize_lightgbm(x[:1500], y[:1500], x[1510:], y[1510:], num_boost_round=20)
    with psycopg.connect(pg_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT study_name FROM studies")
        assert cur.fetchall() == [("pg_study",)]
        cur.execute("SELECT count(*) FROM trials")
        assert cur.fetchone() == (2,)
    assert not (tmp_path / "optuna.db").exists()


async def test_export_features_to_parquet(
    real_redis: Any, redis_server: Any, settings_factory: Any, frame: pd.DataFrame,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    settings: Settings = settings_factory(redis_url=redis_server.url)
    producer = StreamProducer(real_redis)
    head = frame.head(50)
    for row in head.to_dict("records"):
        producer.publish(settings.streams().features, FeatureVector(
            symbol=row["symbol"], ts_ms=int(row["ts_ms"]),
            values={n: float(row[n]) for n in FEATURE_NAMES}))  # fmt: skip
    await producer.flush()
    await real_redis.xadd(settings.streams().features.name, {"symbol": "BTCUSDT"})  # broken
    for key, value in (("REDIS_URL", redis_server.url),
                       ("STREAM_PREFIX", settings.stream_prefix)):  # fmt: skip
        monkeypatch.setenv(key, value)
    (tmp_path / "empty.env").write_text("")
    out = tmp_path / "features.parquet"
    import asyncio

    code = await asyncio.to_thread(
        main, ["--env-file", str(tmp_path / "empty.env"), "export-features", "--out", str(out)]
    )
    assert code == 0
    exported = ParquetSource(out).load(None, None, None)
    assert len(exported) == 50  # the undecodable entry is skipped and counted
    np.testing.assert_allclose(exported["binance_bybit_ratio"], head["binance_bybit_ratio"],
                               rtol=1e-11)  # fmt: skip
    assert exported["ts_ms"].tolist() == head["ts_ms"].tolist()


def test_private_cluster_of_run_is_started_for_the_read(
    local_postgres: Any, frame: pd.DataFrame, tmp_path: Path
) -> None:
    """No DATABASE_URL: `train` reads the cluster `run` keeps in PG_DATA_DIR, started for the
    read and stopped after (here a cluster prepared like `run` does, then stopped)."""
    import asyncio
    import shutil
    import tempfile

    from microservices.ml.sources import PrivatePostgresSource
    from microservices.storage.migrate import migrate_url
    from microservices.storage.pg_server import LocalPostgres

    # outside pytest's tmp tree: the cluster runs as an unprivileged user who must reach it
    data_dir = Path(tempfile.mkdtemp(prefix="ce-ml-pg-"))
    data_dir.chmod(0o777)
    try:
        server: LocalPostgres = local_postgres(data_dir=data_dir, database="ce_demo")
        asyncio.run(migrate_url(server.url))
        _insert(server.url, frame.head(400))
        server.stop()
        loaded = PrivatePostgresSource(data_dir, "ce_demo").load(None, None, None)
        assert loaded["ts_ms"].tolist() == frame["ts_ms"][:400].tolist()
        assert not server.running
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    with pytest.raises(ValueError, match="no PostgreSQL cluster"):
        PrivatePostgresSource(tmp_path / "none", "ce").load(None, None, None)
