"""Binance spot and USD-M L2 books from the simulator, synced the way Binance documents.

A client subscribes to `<sym>@depth@100ms`, buffers diffs, takes the REST snapshot, drops
the diffs the snapshot already holds and applies the rest under the id rules (spot: first
applied U <= lastUpdateId+1 <= u, then U == prev u + 1; USD-M: first U <= lastUpdateId <= u,
then pu == prev u). The result must equal a later REST snapshot level for level, and its top
the bookTicker of the same moment. The gap fault must break exactly those rules.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.unit.simulator.l2_client import Book, Stepper, get_json, stepped_simulator, until

VENUES = [("binance", "/api/v3", False), ("binance_futures", "/fapi/v1", True)]


def follows(prev: dict[str, Any], ev: dict[str, Any], futures: bool) -> bool:
    """The id rule between two consecutive applied diffs."""
    return bool(ev["pu"] == prev["u"]) if futures else bool(ev["U"] == prev["u"] + 1)


def sync(snapshot: dict[str, Any], diffs: list[dict[str, Any]], futures: bool) -> Book:
    """Binance's documented procedure; AssertionError where a rule does not hold."""
    last_id = snapshot["lastUpdateId"]
    book = Book(snapshot["bids"], snapshot["asks"])
    kept = [d for d in diffs if (d["u"] >= last_id if futures else d["u"] > last_id)]
    assert kept, "no diff after the snapshot"
    first = kept[0]
    if futures:
        assert first["U"] <= last_id <= first["u"]
    else:
        assert first["U"] <= last_id + 1 <= first["u"]
    for prev, ev in zip([None, *kept], kept, strict=False):
        assert prev is None or follows(prev, ev, futures), (prev, ev)
        book.apply(ev["b"], ev["a"])
    return book


async def diffs_of_step(ws: ClientConnection, stepper: Stepper, times: int = 1) -> list[Any]:
    """Step the market; every diff frame it produced (read up to a LIST_SUBSCRIPTIONS reply)."""
    found: list[Any] = []
    for _ in range(times):
        stepper.step()
        await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 9}))
        found += await until(ws, lambda f: f.get("id") == 9)
    return found


@pytest.mark.parametrize(("venue", "api", "futures"), VENUES)
async def test_snapshot_and_diffs_sync_to_the_venue_book(
    venue: str, api: str, futures: bool
) -> None:
    async with (
        stepped_simulator() as (sim, stepper),
        aiohttp.ClientSession() as http,
        connect(f"{sim.ws_url(venue)}/ws/btcusdt@depth@100ms") as ws,
    ):
        rest = sim.rest_url(venue) + api
        diffs = await diffs_of_step(ws, stepper, 3)
        status, snapshot, _ = await get_json(http, f"{rest}/depth?symbol=BTCUSDT&limit=1000")
        assert status == 200
        diffs += await diffs_of_step(ws, stepper, 6)
        book = sync(snapshot, diffs, futures)
        _, later, _ = await get_json(http, f"{rest}/depth?symbol=BTCUSDT&limit=1000")
        _, ticker, _ = await get_json(http, f"{rest}/ticker/bookTicker?symbol=BTCUSDT")
    assert len(diffs) == 9  # one diff per step (20 events/s: every step changes the book)
    assert all(d["e"] == "depthUpdate" and d["s"] == "BTCUSDT" for d in diffs)
    assert ("pu" in diffs[0] and "T" in diffs[0]) is futures
    assert book.levels() == Book(later["bids"], later["asks"]).levels()
    assert 250 <= len(book.bids) <= 340 and 250 <= len(book.asks) <= 340
    bid, bid_qty, ask, ask_qty = book.best()
    assert (bid, bid_qty, ask, ask_qty) == (
        ticker["bidPrice"],
        ticker["bidQty"],
        ticker["askPrice"],
        ticker["askQty"],
    )
    assert [list(lv) for lv in later["bids"][:1]] == [[bid, bid_qty]]


@pytest.mark.parametrize(("venue", "api", "futures"), VENUES)
async def test_gap_fault_breaks_the_id_chain_exactly_where_a_diff_is_missing(
    venue: str, api: str, futures: bool
) -> None:
    async with (
        stepped_simulator(depth_gap_every=3) as (sim, stepper),
        connect(f"{sim.ws_url(venue)}/ws/btcusdt@depth@100ms") as ws,
    ):
        diffs = await diffs_of_step(ws, stepper, 9)
        skipped = sim.stats()["venues"][venue]["book_diffs_skipped"]
    # 9 diffs made, the 3rd, 6th and 9th skipped: the chain breaks before received 3 and 5
    assert skipped == 3 and len(diffs) == 6
    breaks = [i for i in range(1, len(diffs)) if not follows(diffs[i - 1], diffs[i], futures)]
    assert breaks == [2, 4]
    for i in breaks:
        prev, ev = diffs[i - 1], diffs[i]
        assert ev["U"] > prev["u"] + 1  # the ids of the missing diff
        if futures:
            assert prev["u"] < ev["pu"] < ev["U"]  # pu names the diff this client never got
    with pytest.raises(AssertionError):
        sync({"lastUpdateId": diffs[0]["u"], "bids": [], "asks": []}, diffs, futures)


@pytest.mark.parametrize(
    ("venue", "api", "limit", "weight"),
    [
        ("binance", "/api/v3", 100, 5),
        ("binance", "/api/v3", 500, 25),
        ("binance", "/api/v3", 1000, 50),
        ("binance", "/api/v3", 5000, 250),
        ("binance_futures", "/fapi/v1", 50, 2),
        ("binance_futures", "/fapi/v1", 100, 5),
        ("binance_futures", "/fapi/v1", 500, 10),
        ("binance_futures", "/fapi/v1", 1000, 20),
    ],
)
async def test_rest_depth_weight_and_limit(venue: str, api: str, limit: int, weight: int) -> None:
    async with stepped_simulator() as (sim, _), aiohttp.ClientSession() as http:
        url = f"{sim.rest_url(venue)}{api}/depth?symbol=ETHUSDT&limit={limit}"
        _, first, headers = await get_json(http, url)
        _, _, again = await get_json(http, url)
    used = int(again["X-MBX-USED-WEIGHT-1M"]) - int(headers["X-MBX-USED-WEIGHT-1M"])
    assert used == weight
    for side in (first["bids"], first["asks"]):  # a ladder holds 270..330 levels a side
        assert len(side) == limit if limit <= 100 else 270 <= len(side) <= 330


@pytest.mark.parametrize(
    ("venue", "api"), [("binance", "/api/v3"), ("binance_futures", "/fapi/v1")]
)
async def test_rest_depth_answers_429_then_5xx_under_the_rest_faults(venue: str, api: str) -> None:
    async with stepped_simulator() as (sim, _), aiohttp.ClientSession() as http:
        url = f"{sim.rest_url(venue)}{api}/depth?symbol=BTCUSDT"
        sim.set_faults(venue, server_error_burst=1)
        status, body, _ = await get_json(http, url)
        assert (status, body["code"]) == (503, -1001)
        status, body, _ = await get_json(http, url)
        assert status == 200 and body["lastUpdateId"] > 0
        sim.set_faults(venue, rate_limit_burst=1, retry_after_s=7)
        status, body, headers = await get_json(http, url)
        assert (status, body["code"], headers["Retry-After"]) == (429, -1003, "7")
