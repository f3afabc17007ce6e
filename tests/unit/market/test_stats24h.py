"""24 h statistics: price change parsed from Binance and Bybit tickers rows, and the stats
hash fields (`stats_fields`) worked by hand."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import redis.asyncio as aredis

from microservices.common.catalog import Catalog
from microservices.common.instruments import make_instrument
from microservices.common.streams import collector_key
from microservices.data_collector.exchanges.binance.listing import (
    parse_tickers_24h as binance_tickers,
)
from microservices.data_collector.exchanges.bybit.listing import parse_tickers_24h as bybit_tickers
from microservices.data_collector.exchanges.venue_symbols import Volume24h
from microservices.data_collector.registry import build_exchanges
from microservices.data_collector.stats24h import Stats24hPoller, stats_fields


def test_binance_full_row_gives_its_percent_and_mini_row_the_open_based_one() -> None:
    full = {"symbol": "BTCUSDT", "lastPrice": "101.0", "quoteVolume": "5000",
            "priceChangePercent": "-2.500"}  # fmt: skip
    mini = {"symbol": "ETHUSDT", "lastPrice": "110", "openPrice": "100", "quoteVolume": "7"}
    bare = {"symbol": "SOLUSDT", "lastPrice": "110", "quoteVolume": "7"}
    rows = binance_tickers([full, mini, bare])
    assert rows[0] == Volume24h("BTCUSDT", 101.0, 5000.0, -2.5)
    assert (rows[1].last, rows[1].quote_volume) == (110.0, 7.0)
    assert rows[1].price_change_pct == pytest.approx(10.0)
    assert rows[2].price_change_pct is None


def test_bybit_price24hpcnt_is_a_fraction_turned_into_percent() -> None:
    payload = {"result": {"list": [
        {"symbol": "BTCUSDT", "lastPrice": "36512.30", "turnover24h": "4273027716.4294",
         "price24hPcnt": "0.012"},
        {"symbol": "ETHUSDT", "lastPrice": "2000", "turnover24h": "10", "price24hPcnt": ""},
    ]}}  # fmt: skip
    rows = bybit_tickers(payload)
    assert rows[0].price_change_pct == pytest.approx(1.2)
    assert rows[0].quote_volume == pytest.approx(4273027716.4294)
    assert rows[1].price_change_pct is None


def _catalog() -> Catalog:
    insts = [
        make_instrument(venue="binance", venue_symbol="BTCUSDT", base="BTC", quote="USDT",
                        market="spot"),
        make_instrument(venue="binance", venue_symbol="ETHBTC", base="ETH", quote="BTC",
                        market="spot"),
        make_instrument(venue="binance", venue_symbol="OLDUSDT", base="OLD", quote="USDT",
                        market="spot", status="halted"),
    ]  # fmt: skip
    return Catalog(insts)


def test_stats_fields_convert_volumes_and_leave_unlisted_rows_out() -> None:
    rows = [
        Volume24h("BTCUSDT", 50_000.0, 1_000_000.0, 2.0),
        Volume24h("ETHBTC", 0.05, 10.0, -1.0),  # 10 BTC of quote volume = 500 000 USD
        Volume24h("OLDUSDT", 1.0, 5.0, 0.0),  # halted
        Volume24h("NEWUSDT", 1.0, 5.0, 0.0),  # not in the catalog
    ]
    fields = stats_fields("binance", rows, _catalog(), 1_700_000_000_000)
    assert sorted(fields) == ["binance:BTCUSDT", "binance:ETHBTC"]
    btc = orjson.loads(fields["binance:BTCUSDT"])
    assert btc["volume_24h"] == pytest.approx(20.0)  # 1e6 / 50 000
    assert btc["volume_usd_24h"] == pytest.approx(1_000_000.0)
    assert (btc["group"], btc["price_change_24h"], btc["ts_ms"]) == (
        "BTCUSDT",
        2.0,
        1_700_000_000_000,
    )
    eth = orjson.loads(fields["binance:ETHBTC"])
    assert eth["volume_24h"] == pytest.approx(200.0)  # 10 / 0.05
    assert eth["volume_usd_24h"] == pytest.approx(500_000.0)
    assert (eth["symbol"], eth["quote"], eth["group"]) == ("ETHBTC", "BTC", "ETHBTC")


class FakeClient:
    """The REST client's get_json: Binance's MINI tickers; counts the requests."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def get_json(self, exchange: Any, request: Any, attempts: int = 1) -> Any:
        self.paths.append(request.path)
        return [{"symbol": "BTCUSDT", "lastPrice": "50000", "openPrice": "40000",
                 "quoteVolume": "1000000"}]  # fmt: skip


async def test_poller_writes_both_venues_with_a_ttl(
    any_redis: aredis.Redis, settings_factory: Any
) -> None:
    """Binance from its tickers (+25 % from the MINI row's open); Coinbase has no tickers
    endpoint: its listed instruments with null statistics."""
    settings = settings_factory(venues="binance,coinbase")
    catalog = Catalog([
        make_instrument(venue="binance", venue_symbol="BTCUSDT", base="BTC", quote="USDT",
                        market="spot"),
        make_instrument(venue="coinbase", venue_symbol="BTC-USD", base="BTC", quote="USD",
                        market="spot"),
    ])  # fmt: skip
    client = FakeClient()
    key = collector_key(settings.stream_prefix, "stats24h")
    poller = Stats24hPoller(build_exchanges(settings), client, any_redis, key,  # type: ignore[arg-type]
                            lambda: catalog, 300.0)  # fmt: skip
    assert await poller.refresh("binance") == 1
    assert await poller.refresh("coinbase") == 1
    assert client.paths == ["/api/v3/ticker/24hr"]
    raw: Any = await any_redis.hgetall(key)
    stored = {k.decode(): orjson.loads(v) for k, v in raw.items()}
    assert stored["binance:BTCUSDT"]["price_change_24h"] == pytest.approx(25.0)
    assert stored["binance:BTCUSDT"]["volume_24h"] == pytest.approx(20.0)
    coinbase = stored["coinbase:BTC-USD"]
    assert (coinbase["group"], coinbase["last"], coinbase["price_change_24h"]) == (
        "BTCUSDT",
        None,
        None,
    )
    assert 0 < await any_redis.ttl(key) <= 901
