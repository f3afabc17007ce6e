"""Instrument listings from the venues (the simulator's dialects serve them): every page, the
cache at start, a venue that is down, a listing that drops most instruments, new listings,
the 24 h tickers of `top:N`, and SYMBOLS resolved against them (unknown names fail at start)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import REGISTRY

from microservices.common.errors import FatalError
from microservices.common.redis_server import free_port
from microservices.common.settings import Settings
from microservices.data_collector import exchanges
from microservices.data_collector.exchanges import EXCHANGES
from microservices.data_collector.exchanges.base import Exchange
from microservices.data_collector.following import Following
from microservices.data_collector.listing_cache import listing_path, read_listing, save_listing
from microservices.data_collector.listings import Listings, fetch_listing
from microservices.data_collector.rest_client import RestClient
from microservices.exchange_simulator.config import MarketConfig, SimulatorConfig
from microservices.exchange_simulator.server import start_simulator

pytestmark = pytest.mark.integration
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT", "LINKUSDT")


@contextlib.asynccontextmanager
async def simulator(symbols: tuple[str, ...] = SYMBOLS) -> AsyncIterator[dict[str, str]]:
    config = SimulatorConfig(port=0, market=MarketConfig(symbols=symbols))
    async with start_simulator(config) as sim:
        yield exchanges.simulator_endpoints(sim.base_url, sim.ws_base)


def venue(name: str, endpoints: dict[str, str], symbols: tuple[str, ...] = ()) -> Exchange:
    ws, rest = (endpoints[exchanges.endpoint_setting(name, k).name] for k in ("ws", "rest"))
    return EXCHANGES[name](symbols, ws, rest)


def failures(name: str, reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "ce_listing_failures_total", {"exchange": name, "reason": reason}
    )
    return value or 0.0


@contextlib.asynccontextmanager
async def client() -> AsyncIterator[RestClient]:
    async with aiohttp.ClientSession() as session:
        yield RestClient(session, timeout_s=2.0)


async def test_every_venue_lists_the_simulated_symbols_with_tick_and_lot() -> None:
    async with simulator() as endpoints, client() as rest:
        got: dict[str, Any] = {}
        for name in exchanges.venue_ids():
            listing = await fetch_listing(rest, venue(name, endpoints))
            assert listing.skipped == {} and listing.flagged == {}, name
            got[name] = {i.venue_symbol: i for i in listing.instruments}
    assert sorted(got["binance"]) == sorted(SYMBOLS) == sorted(got["bybit"])
    assert sorted(got["coinbase"]) == sorted(s.replace("USDT", "-USD") for s in SYMBOLS)
    btc = got["binance_futures"]["BTCUSDT"]
    assert (btc.market, btc.quote, btc.tick_size, btc.lot_size, btc.status) == (
        "perpetual", "USDT", 0.01, 0.001, "trading",
    )  # fmt: skip
    assert (got["bybit"]["BTCUSDT"].funding_interval_h, got["bybit"]["BTCUSDT"].settle) == (
        8.0,
        "USDT",
    )
    assert got["bybit_spot"]["ETHUSDT"].lot_size == 1e-05  # basePrecision: 3 more decimals
    cb = got["coinbase"]["BTC-USD"]
    assert (cb.symbol, cb.quote, cb.tick_size, cb.lot_size) == ("BTCUSD", "USD", 0.01, 1e-08)


async def test_bybit_pages_follow_the_cursor() -> None:
    async with simulator() as endpoints, client() as rest:
        bybit = venue("bybit", endpoints)
        bybit.page_limit = 2  # type: ignore[misc]  # 5 symbols: pages of 2, 2, 1
        listing = await fetch_listing(rest, bybit)
    assert [i.venue_symbol for i in listing.instruments] == sorted(SYMBOLS)


def listings(exchange: Exchange, rest: RestClient | None, cache: Path) -> Listings:
    return Listings({exchange.name: exchange}, rest, cache, max_age_s=3600.0,
                    usd_quotes=("USD", "USDT", "USDC"))  # fmt: skip


async def test_start_from_venue_then_cache_then_rule(tmp_path: Path) -> None:
    async with simulator() as endpoints, client() as rest:
        exchange = venue("coinbase", endpoints)
        first = listings(exchange, rest, tmp_path)
        catalog = await first.load(["BTCUSDT"])
        assert first.listings["coinbase"].source == "venue" and len(catalog) == 5
        cached = read_listing(listing_path(tmp_path, "coinbase"))
        assert cached is not None and len(cached.instruments) == 5
        # a restart within LISTING_CACHE_MAX_AGE_S: the cache, without asking the venue
        offline = listings(exchange, None, tmp_path)
        await offline.load(["BTCUSDT"])
        assert offline.listings["coinbase"].source == "cache"
    # an old cache and a venue that is down: the cache all the same
    save_listing(listing_path(tmp_path, "coinbase"), "coinbase", cached.instruments, 1_000_000)
    dead = EXCHANGES["coinbase"]((), "ws://127.0.0.1:1", f"http://127.0.0.1:{free_port()}")
    async with client() as rest:
        before = failures("coinbase", "fetch_failed")
        down = listings(dead, rest, tmp_path)
        await down.load(["BTCUSDT"])
        assert down.listings["coinbase"].source == "cache"
        assert failures("coinbase", "fetch_failed") == before + 1
        # neither a cache nor the venue: the naming rule names the explicit symbols
        bare = listings(dead, rest, tmp_path / "empty")
        catalog = await bare.load(["BTCUSDT", "ETHBTC"])
    assert bare.listings["coinbase"].source == "rule"
    assert {i.venue_symbol for i in catalog.instruments()} == {
        "BTC-USD", "BTC-USDT", "BTC-USDC", "ETH-BTC",
    }  # fmt: skip
    assert catalog.listed == frozenset()


async def test_refresh_keeps_the_last_good_listing_and_reports_new_ones(tmp_path: Path) -> None:
    async with simulator(("BTCUSDT", "ETHUSDT")) as endpoints, client() as rest:
        exchange = venue("binance", endpoints)
        held = listings(exchange, rest, tmp_path)
        await held.load([])
    async with simulator(("BTCUSDT", "ETHUSDT", "SOLUSDT")) as endpoints, client() as rest:
        held.exchanges = {"binance": venue("binance", endpoints)}
        held.client = rest
        diff = await held.refresh("binance")
        assert diff is not None
        assert [i.venue_symbol for i in diff.added] == ["SOLUSDT"] and diff.removed == ()
    many = held.listings["binance"]
    async with simulator(("BTCUSDT",)) as endpoints, client() as rest:  # 1 of 3: implausible
        held.exchanges = {"binance": venue("binance", endpoints)}
        held.client = rest
        before = failures("binance", "implausible")
        assert await held.refresh("binance") is None
    assert held.listings["binance"] is many
    assert failures("binance", "implausible") == before + 1


def settings_for(settings_factory: Any, endpoints: dict[str, str], **kw: Any) -> Settings:
    base: Settings = settings_factory(venues="binance,binance_futures,bybit,coinbase", **kw)
    return base.model_copy(update={"endpoints": base.endpoints | endpoints})


async def test_symbols_resolve_against_the_listings(settings_factory: Any) -> None:
    async with simulator() as endpoints, client() as rest:
        settings = settings_for(settings_factory, endpoints, symbols="btc-usd,top:2,LINKUSDT")
        built = {
            v: venue(v, endpoints, tuple(settings.explicit_symbols())) for v in settings.venues
        }
        following = Following(settings, built)
        await following.start(rest)
        ranked = sorted(following.volumes, key=lambda s: -following.volumes[s])
        assert following.symbols == (
            "BTCUSDT",
            "LINKUSDT",
            *[s for s in ranked[:2] if s not in ("BTCUSDT", "LINKUSDT")],
        )
        assert set(following.volumes) == set(SYMBOLS) and all(
            v > 0 for v in following.volumes.values()
        )
        assert built["coinbase"].to_venue("BTCUSDT") == "BTC-USD"
        assert following.followed_json()["BTCUSDT"]["coinbase"]["quote"] == "USD"
        # a name no venue lists stops the start, naming close matches
        bad = settings_for(settings_factory, endpoints, symbols="BTCUSDT,ETHUSDX")
        with pytest.raises(FatalError, match=r"ETHUSDX \(did you mean ETHUSDT"):
            await Following(bad, {v: venue(v, endpoints) for v in bad.venues}).start(rest)
