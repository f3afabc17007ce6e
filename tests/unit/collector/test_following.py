"""Keeping the followed symbols current: new listings published to exchange.listings, a
followed instrument that is delisted logged once and unsubscribed, refresh timing."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from microservices.common.catalog import Catalog
from microservices.common.instruments import make_instrument
from microservices.common.records import NewListing
from microservices.common.settings import Settings
from microservices.data_collector.exchanges import EXCHANGES
from microservices.data_collector.following import Following, reference_symbols
from microservices.data_collector.listing_cache import ListingDiff
from microservices.data_collector.listings import Listings, VenueListing


class FakeProducer:
    def __init__(self) -> None:
        self.published: list[tuple[str, Any]] = []

    def publish(self, stream: Any, record: Any) -> None:
        self.published.append((stream.name, record))


def coinbase(vsym: str, **kw: Any) -> Any:
    base, quote = vsym.split("-")
    return make_instrument(venue="coinbase", venue_symbol=vsym, base=base, quote=quote,
                           market="spot", **kw)  # fmt: skip


@pytest.fixture
def following(settings_factory: Any) -> Following:
    settings: Settings = settings_factory(venues="coinbase", symbols="BTCUSDT,ETHUSDT")
    venue = EXCHANGES["coinbase"](settings.explicit_symbols(), "wss://x", "https://x")
    return Following(settings, {"coinbase": venue}, FakeProducer())  # type: ignore[arg-type]


def use(following: Following, *products: str) -> None:
    instruments = tuple(coinbase(p, tick_size=0.01) for p in products)
    following.listings._use(VenueListing("coinbase", instruments, "venue", 1_700_000_000_000))


async def test_new_and_delisted_instruments(
    following: Following, caplog: pytest.LogCaptureFixture
) -> None:
    use(following, "BTC-USD", "ETH-USD")
    changes: list[set[str]] = []

    async def on_change(venues: set[str]) -> None:
        changes.append(venues)

    await following.update(on_change)
    venue = following.exchanges["coinbase"]
    assert venue.symbols == ("BTCUSDT", "ETHUSDT") and changes == []  # same instruments
    diff = ListingDiff(added=(coinbase("SOL-USD", tick_size=0.01),),
                       removed=(coinbase("ETH-USD"),), changed_status=())  # fmt: skip
    with caplog.at_level(logging.INFO):
        following.announce(diff)
    producer = following.producer
    assert isinstance(producer, FakeProducer)
    prefix = following.settings.stream_prefix
    [(stream, listing)] = [(s, r) for s, r in producer.published if s.endswith("listings")]
    assert stream == f"{prefix}exchange.listings"
    alerts = [r for s, r in producer.published if s == f"{prefix}alerts"]
    assert [(a.type, a.venue, a.symbol, a.data["venue_symbol"]) for a in alerts] == [
        ("NEW_LISTING", "coinbase", "SOLUSD", "SOL-USD"),
        ("DELISTING", "coinbase", "ETHUSD", "ETH-USD"),
    ]
    assert listing == NewListing(
        exchange="coinbase", venue_symbol="SOL-USD", symbol="SOLUSD", group="SOLUSDT",
        base="SOL", quote="USD", market="spot", status="trading", ts_ms=listing.ts_ms,
        tick_size=0.01, lot_size=None,
    )  # fmt: skip
    delisted = [r for r in caplog.records if r.getMessage() == "listing.delisted"]
    assert [(r.exchange, r.venue_symbol) for r in delisted] == [("coinbase", "ETH-USD")]  # type: ignore[attr-defined]

    use(following, "BTC-USD", "SOL-USD")  # the refresh's listing: ETH-USD gone
    await following.update(on_change)
    assert changes == [{"coinbase"}]
    assert venue.symbols == ("BTCUSDT",)  # unsubscribed: its connection is replaced
    assert following.symbols == ("BTCUSDT",)
    assert [r for r in caplog.records if r.getMessage() == "symbols.unknown"]  # logged, no crash


def test_refresh_due_times() -> None:
    now = [1_700_000_000_000]
    venue = EXCHANGES["coinbase"]([], "wss://x", "https://x")
    listings = Listings({"coinbase": venue}, None, None, max_age_s=60.0, usd_quotes=("USD",),
                        clock=lambda: now[0])  # fmt: skip
    assert listings.next_refresh_ms("coinbase", 3600.0) == now[0]  # nothing loaded: at once
    listings._use(VenueListing("coinbase", (), "venue", now[0] - 1000))
    assert listings.next_refresh_ms("coinbase", 3600.0) == now[0] - 1000 + 3_600_000
    listings._use(VenueListing("coinbase", (), "rule"))
    listings.tried_ms["coinbase"] = now[0]  # a failed fetch: not again within a minute
    assert listings.next_refresh_ms("coinbase", 3600.0) == now[0] + 60_000
    assert listings.next_refresh_ms("coinbase", 10.0) == now[0] + 10_000


async def test_stablecoin_pairs_are_followed_as_references_not_published(
    following: Following,
) -> None:
    """Coinbase USDT-USD and USDT-USDC give the aggregator USDT's own USD price: each venue
    follows the stablecoin pairs it trades, /api/v1/symbols does not list them."""
    use(following, "BTC-USD", "ETH-USD", "USDT-USD", "USDT-USDC", "ETH-BTC")

    async def on_change(venues: set[str]) -> None:
        pass

    await following.update(on_change)
    venue = following.exchanges["coinbase"]
    assert venue.symbols == ("BTCUSDT", "ETHUSDT", "USDTUSD", "USDTUSDC")
    assert venue.venue_symbol("USDTUSD") == "USDT-USD"
    assert following.symbols == ("BTCUSDT", "ETHUSDT")
    assert list(following.followed_json()) == ["BTCUSDT", "ETHUSDT"]


def test_reference_symbols_are_trading_stablecoin_spot_pairs() -> None:
    def inst(venue: str, vsym: str, base: str, quote: str, **kw: Any) -> Any:
        return make_instrument(venue=venue, venue_symbol=vsym, base=base, quote=quote, **kw)

    catalog = Catalog([
        inst("binance", "USDCUSDT", "USDC", "USDT", market="spot"),
        inst("binance", "TUSDUSDT", "TUSD", "USDT", market="spot"),  # TUSD is not USD-class
        inst("binance", "USDTDAI", "USDT", "DAI", market="spot"),
        inst("binance", "USDPUSDT", "USDP", "USDT", market="spot"),
        inst("binance_futures", "USDCUSDT", "USDC", "USDT", market="perpetual"),
        inst("coinbase", "USDT-USD", "USDT", "USD", market="spot"),
        inst("coinbase", "USDT-USDC", "USDT", "USDC", market="spot", status="halted"),
    ])  # fmt: skip
    assert reference_symbols(catalog, "binance") == ["USDCUSDT"]
    assert reference_symbols(catalog, "binance_futures") == []  # perpetuals carry basis
    assert reference_symbols(catalog, "coinbase") == ["USDTUSD"]
