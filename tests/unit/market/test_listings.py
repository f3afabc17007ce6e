"""Listings: the alerts a refresh diff raises (pure), and /api/v1/listings serving them from
the `alerts` stream (since, venue filter, other alert types left out)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aredis

from microservices.ai_engine.engine import Engine
from microservices.ai_engine.market.listings import since_ms
from microservices.common.catalog import Catalog
from microservices.common.clock import now_ms
from microservices.common.instruments import make_instrument
from microservices.common.market_alerts import MarketAlert
from microservices.data_collector.listing_alerts import listing_alerts
from microservices.data_collector.listing_cache import ListingDiff

NEW = make_instrument(venue="kucoin", venue_symbol="NEW-USDT", base="NEW", quote="USDT",
                      market="spot")  # fmt: skip
GONE = make_instrument(venue="binance", venue_symbol="OLDUSDT", base="OLD", quote="USDT",
                       market="spot")  # fmt: skip


def test_diff_alerts() -> None:
    diff = ListingDiff(added=(NEW,), removed=(GONE,), changed_status=())
    new, gone = listing_alerts(diff, Catalog([NEW, GONE]), 1_700_000_000_000)
    assert (new.type, new.severity, new.venue, new.symbol) == ("NEW_LISTING", "info", "kucoin",
                                                               "NEWUSDT")  # fmt: skip
    assert new.data == {"venue_symbol": "NEW-USDT", "group": "NEWUSDT", "base": "NEW",
                        "quote": "USDT", "market": "spot", "status": "trading"}  # fmt: skip
    assert (gone.type, gone.severity, gone.reason) == (
        "DELISTING",
        "warning",
        "binance delisted OLDUSDT (spot)",
    )


def test_since_forms() -> None:
    now = 1_700_000_000_000
    assert since_ms("24h", now) == now - 86_400_000
    assert since_ms("90m", now) == now - 5_400_000
    assert since_ms("1699999999000", now) == 1_699_999_999_000
    assert since_ms("2023-11-14T22:13:20Z", now) == now
    with pytest.raises(ValueError):
        since_ms("yesterday", now)


@pytest.fixture
async def client(any_redis: aredis.Redis, settings_factory: Any) -> AsyncIterator[
    tuple[httpx.AsyncClient, Engine]]:  # fmt: skip
    engine = Engine(settings_factory(venues="binance,kucoin"), any_redis)
    transport = httpx.ASGITransport(app=engine.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http, engine


async def test_listings_route(client: tuple[httpx.AsyncClient, Engine]) -> None:
    http, engine = client
    stream = engine.settings.streams().market_alerts
    now = now_ms()
    diff = ListingDiff(added=(NEW,), removed=(GONE,), changed_status=())
    depeg = MarketAlert(ts_ms=now, source="aggregator", type="DEPEG", severity="warning",
                        reason="USDT off", symbol="USDTUSD")  # fmt: skip
    for alert in [*listing_alerts(diff, Catalog([NEW, GONE]), now), depeg]:
        await engine.redis.xadd(stream.name, stream.schema.encode(alert))  # type: ignore[arg-type]
    body = (await http.get("/api/v1/listings?since=1h")).json()
    assert [(e["type"], e["venue"], e["venue_symbol"]) for e in body["listings"]] == [
        ("NEW_LISTING", "kucoin", "NEW-USDT"),
        ("DELISTING", "binance", "OLDUSDT"),
    ]
    only = (await http.get("/api/v1/listings?venue=KuCoin")).json()["listings"]
    assert [e["group"] for e in only] == ["NEWUSDT"]
    later = (await http.get(f"/api/v1/listings?since={now + 60_000}")).json()
    assert later["listings"] == []
    assert (await http.get("/api/v1/listings?since=soon")).status_code == 422


def test_a_venue_symbol_replaced_by_another_of_the_same_instrument_is_a_rename() -> None:
    """MATICUSDT -> POLUSDT: the alias table names both POLUSDT; one RENAMED, no pair."""
    old = make_instrument(venue="binance", venue_symbol="MATICUSDT", base="MATIC", quote="USDT",
                          market="spot")  # fmt: skip
    new = make_instrument(venue="binance", venue_symbol="POLUSDT", base="POL", quote="USDT",
                          market="spot")  # fmt: skip
    assert old.symbol == new.symbol == "POLUSDT"
    diff = ListingDiff(added=(new, NEW), removed=(old, GONE), changed_status=())
    alerts = listing_alerts(diff, Catalog([new, NEW, GONE]), 1_700_000_000_000)
    assert [(a.type, a.venue, a.symbol) for a in alerts] == [
        ("RENAMED", "binance", "POLUSDT"), ("NEW_LISTING", "kucoin", "NEWUSDT"),
        ("DELISTING", "binance", "OLDUSDT")]  # fmt: skip
    assert alerts[0].reason == "binance renamed MATICUSDT to POLUSDT (spot)"
    assert alerts[0].data["old_venue_symbol"] == "MATICUSDT"
