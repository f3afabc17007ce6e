"""Collectors split by symbol set or by venue: each publishes its part of the followed set
under its COLLECTOR_ID, and readers see the union (issue 19)."""

from __future__ import annotations

from typing import Any

import orjson

from microservices.common.followed import (
    followed_key,
    instances_key,
    merge_parts,
    read_followed_parts,
)
from microservices.common.settings import Settings
from microservices.data_collector.exchanges import EXCHANGES
from microservices.data_collector.following import Following
from tests.unit.collector.test_following import FakeProducer, use


def collector(settings_factory: Any, redis: Any, collector_id: str, symbols: str) -> Following:
    settings: Settings = settings_factory(venues="coinbase", symbols=symbols,
                                          collector_id=collector_id)  # fmt: skip
    venue = EXCHANGES["coinbase"](settings.explicit_symbols(), "wss://x", "https://x")
    return Following(settings, {"coinbase": venue}, FakeProducer(), redis)  # type: ignore[arg-type]


async def test_two_collectors_split_by_symbols_publish_one_set(
    fake_redis: Any, settings_factory: Any
) -> None:
    first = collector(settings_factory, fake_redis, "a", "BTCUSDT,ETHUSDT")
    second = collector(settings_factory, fake_redis, "b", "SOLUSDT")
    use(first, "BTC-USD", "ETH-USD")
    use(second, "SOL-USD")
    await first.publish_followed()
    await second.publish_followed()
    prefix = first.settings.stream_prefix
    assert await fake_redis.smembers(instances_key(prefix)) == {b"a", b"b"}
    assert set(await fake_redis.hkeys(followed_key(prefix, "b"))) == {b"SOLUSDT", b"_updated_ms"}
    assert not await fake_redis.exists(followed_key(prefix))  # the single-collector key: unused
    merged = await read_followed_parts(fake_redis, prefix)
    assert sorted(merged) == ["BTCUSDT", "ETHUSDT", "SOLUSDT", "_updated_ms"]
    assert orjson.loads(merged["SOLUSDT"])["coinbase"]["venue_symbol"] == "SOL-USD"
    await first.publish_followed()  # a re-publish replaces only its own part
    assert sorted(await read_followed_parts(fake_redis, prefix)) == sorted(merged)


def test_collectors_split_by_venue_merge_per_symbol() -> None:
    btc_binance = {"binance": {"symbol": "BTCUSDT"}}
    btc_coinbase = {"coinbase": {"symbol": "BTCUSD"}}
    merged = merge_parts([
        {b"BTCUSDT": orjson.dumps(btc_binance), b"_updated_ms": b"1000"},
        {b"BTCUSDT": orjson.dumps(btc_coinbase), b"ETHUSDT": b"{}", b"_updated_ms": b"2000"},
    ])  # fmt: skip
    assert orjson.loads(merged["BTCUSDT"]) == btc_binance | btc_coinbase
    assert orjson.loads(merged["ETHUSDT"]) == {}
    assert merged["_updated_ms"] == b"2000"
