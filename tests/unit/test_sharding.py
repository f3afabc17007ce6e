"""Stream sharding: stable shard of a symbol, shard names, routing, settings checks."""

from __future__ import annotations

import zlib
from typing import Any

import pytest

from microservices.common.batch_xadd import group_by_stream
from microservices.common.errors import FatalError
from microservices.common.producer import StreamProducer
from microservices.common.records import Ticker, VolatilityIndex
from microservices.common.settings import load_settings
from microservices.common.sharding import is_context, parse_shards, shard_name, shard_of
from microservices.common.streams import build_streams
from tests.factories import header, snapshot, trade


def test_shard_of_is_crc32_of_the_symbol() -> None:
    # worked by hand from zlib.crc32: BTCUSDT 0x...; the mapping must never change, since
    # entries already in Redis were placed with it
    assert zlib.crc32(b"BTCUSDT") % 4 == 3
    assert [shard_of(s, 4) for s in ("BTCUSDT", "ETHUSDT", "BNBUSDT", "ADAUSDT")] == [3, 0, 2, 1]
    assert [shard_of(s, 2) for s in ("BTCUSDT", "ETHUSDT")] == [1, 0]
    assert shard_of("BTCUSDT", 1) == 0


def test_one_shard_keeps_the_seed_names() -> None:
    streams = build_streams("quantum:stream:")
    assert streams.raw.names() == ["quantum:stream:exchange.raw"]
    assert streams.raw.shard(0) is streams.raw
    assert streams.normalized.shard_for("BTCUSDT").name == "quantum:stream:exchange.normalized"
    assert streams.raw.route(trade()) == ["quantum:stream:exchange.raw"]


def test_sharded_names_carry_a_hash_tag_per_shard() -> None:
    streams = build_streams("p:", shards=4)
    assert streams.raw.names() == [f"p:exchange.raw:{{{i}}}" for i in range(4)]
    third = streams.raw.shard(3)
    assert (third.name, third.index, third.base) == ("p:exchange.raw:{3}", 3, "p:exchange.raw")
    assert third.dead_letter == "p:exchange.raw:{3}:dead"
    assert third.group == "aggregator" and third.maxlen == streams.raw.maxlen
    assert shard_name("p:x", 2, 4) == "p:x:{2}" and shard_name("p:x", 0, 1) == "p:x"
    # streams with no per-symbol key stay one key
    assert streams.market_alerts.names() == ["p:alerts"]
    assert streams.listings.names() == ["p:exchange.listings"]


def test_records_go_to_their_group_shard_and_context_records_everywhere() -> None:
    streams = build_streams("p:", shards=4)
    eth = trade(symbol="ETHUSDT", venue_symbol="ETHUSDT", group="ETHUSDT")
    coinbase_btc = trade(exchange="coinbase", symbol="BTCUSD", venue_symbol="BTC-USD",
                         group="BTCUSDT", quote="USD")  # fmt: skip
    assert streams.raw.route(eth) == ["p:exchange.raw:{0}"]
    assert streams.raw.route(coinbase_btc) == ["p:exchange.raw:{3}"]  # by group, not symbol
    usdc = Ticker(**header(symbol="USDCUSDT", venue_symbol="USDCUSDT", group="USDCUSDT"),
                  bid=0.9998, bid_size=1.0, ask=0.9999, ask_size=1.0)  # fmt: skip
    dvol = VolatilityIndex(**header(exchange="deribit", symbol="BTC-DVOL", group="BTC-DVOL",
                                    venue_symbol="btc_usd", quote="USD"),
                           currency="BTC", volatility=55.2)  # fmt: skip
    assert is_context(usdc) and is_context(dvol) and not is_context(eth)
    assert streams.raw.route(usdc) == streams.raw.names()
    assert streams.raw.route(dvol) == streams.raw.names()
    assert streams.normalized.route(snapshot(symbol="ADAUSDT")) == ["p:exchange.normalized:{1}"]


async def test_producer_writes_each_record_to_its_shard(fake_redis: Any) -> None:
    streams = build_streams("p:", shards=2)
    producer = StreamProducer(fake_redis)
    for symbol in ("BTCUSDT", "ETHUSDT", "BTCUSDT"):
        producer.publish(streams.raw, trade(symbol=symbol, venue_symbol=symbol, group=symbol))
    await producer.flush()
    assert await fake_redis.xlen("p:exchange.raw:{1}") == 2  # BTCUSDT
    assert await fake_redis.xlen("p:exchange.raw:{0}") == 1  # ETHUSDT
    assert not await fake_redis.exists("p:exchange.raw")


def test_parse_shards() -> None:
    assert parse_shards("0,2-3", 4) == frozenset({0, 2, 3})
    assert parse_shards("", 4) == frozenset()
    with pytest.raises(ValueError, match=r"outside 0\.\.3"):
        parse_shards("2-4", 4)


def test_settings_refuse_shards_outside_the_count_and_leases_on_one_cluster_shard() -> None:
    settings = load_settings(env_file=None, stream_shards=4, owned_shards="0, 2-3")
    assert settings.owned_shards == "0,2-3" and settings.streams().raw.shards == 4
    with pytest.raises(FatalError):
        load_settings(env_file=None, stream_shards=2, owned_shards="3")
    with pytest.raises(FatalError):
        load_settings(env_file=None, stream_shards=4, owned_shards="a")
    with pytest.raises(FatalError):
        load_settings(env_file=None, shard_leases=True, redis_cluster=True)
    assert load_settings(env_file=None, shard_leases=True, redis_cluster=True, stream_shards=2)


def test_interleaved_shards_make_one_batch_per_shard() -> None:
    """A producer buffer alternating between shards is written as one batch per shard, each
    in its order (not one batch per run of consecutive entries)."""
    items = [(f"p:x:{{{i % 2}}}", 100, (2, f"e{i}")) for i in range(6)] + [("p:y", 5, (2, "y"))]
    batches = group_by_stream(items)
    assert [(b.name, b.maxlen, b.entries) for b in batches] == [
        ("p:x:{0}", 100, ["e0", "e2", "e4"]),
        ("p:x:{1}", 100, ["e1", "e3", "e5"]),
        ("p:y", 5, ["y"]),
    ]
