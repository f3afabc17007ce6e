"""`cross-exchange export-features` with STREAM_SHARDS=4 on a real redis-server: every shard
is read and the rows come out in time order; `--symbol` reads the symbol's home shard."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from microservices.cli import main
from microservices.common.derived_schemas import FEATURE_NAMES
from microservices.common.producer import StreamProducer
from microservices.common.records import FeatureVector
from microservices.common.settings import Settings
from microservices.ml.sources import ParquetSource

pytestmark = pytest.mark.integration
SYMBOLS = ("ETHUSDT", "ADAUSDT", "BNBUSDT", "BTCUSDT")  # home shards 0, 1, 2, 3 of 4
T0 = 1_760_000_000_000


async def export(tmp_path: Path, *args: str) -> Any:
    out = tmp_path / "features.parquet"
    (tmp_path / "empty.env").write_text("")
    argv = ["--env-file", str(tmp_path / "empty.env"), "export-features", "--out", str(out)]
    assert await asyncio.to_thread(main, [*argv, *args]) == 0
    return ParquetSource(out).load(None, None, None)


async def test_export_reads_every_shard_in_time_order(
    real_redis: Any, redis_server: Any, settings_factory: Any, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    settings: Settings = settings_factory(redis_url=redis_server.url, stream_shards=4)
    stream = settings.streams().features
    producer = StreamProducer(real_redis)
    values = {name: 1.0 for name in FEATURE_NAMES}
    for n in range(10):
        for i, symbol in enumerate(SYMBOLS):
            producer.publish(stream, FeatureVector(symbol=symbol, ts_ms=T0 + 10 * n + i,
                                                   values=values))  # fmt: skip
    await producer.flush()
    assert [await real_redis.xlen(name) for name in stream.names()] == [10, 10, 10, 10]
    for key, value in (("REDIS_URL", redis_server.url), ("STREAM_PREFIX", settings.stream_prefix),
                       ("STREAM_SHARDS", "4")):  # fmt: skip
        monkeypatch.setenv(key, value)
    exported = await export(tmp_path)
    assert exported["ts_ms"].tolist() == [T0 + 10 * n + i for n in range(10) for i in range(4)]
    assert exported["symbol"].tolist() == list(SYMBOLS) * 10
    only = await export(tmp_path, "--symbol", "BTCUSDT", "--symbol", "adausdt")
    assert sorted(set(only["symbol"])) == ["ADAUSDT", "BTCUSDT"]
    assert only["ts_ms"].is_monotonic_increasing and len(only) == 20
