"""Bybit v5 orderbook.50 and Coinbase level2_batch books from the simulator.

Bybit: a snapshot after subscribe, then deltas whose `u` grows by one; size "0" deletes and
the book stays 50 levels a side. Coinbase: a snapshot of the whole book, then l2updates
without sequence numbers. Each reconstruction's top must equal the venue's own quote at the
same moment; the gap fault shows as a `u` jump on Bybit and as nothing at all on Coinbase.
"""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

import aiohttp
from websockets.asyncio.client import ClientConnection, connect

from tests.unit.simulator.l2_client import (
    Book,
    Stepper,
    as_decimal,
    get_json,
    stepped_simulator,
    until,
)

BYBIT_SUB = {"op": "subscribe", "req_id": "1", "args": ["orderbook.50.BTCUSDT"]}
COINBASE_SUB = {"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["level2_batch"]}


async def bybit_frames(ws: ClientConnection, stepper: Stepper, times: int) -> list[Any]:
    """Frames of `times` market steps, each read up to the answer of a JSON ping."""
    found: list[Any] = []
    for _ in range(times):
        stepper.step()
        await ws.send(json.dumps({"op": "ping", "req_id": "p"}))
        found += await until(ws, lambda f: f.get("op") == "ping")
    return found


def bybit_sync(frames: list[Any]) -> tuple[Book, list[int]]:
    """Book from snapshot + deltas (a snapshot resets it); the `u` of every frame."""
    book, ids = Book([], []), []
    for frame in frames:
        data = frame["data"]
        if frame["type"] == "snapshot":
            book = Book(data["b"], data["a"])
        else:
            book.apply(data["b"], data["a"])
        ids.append(data["u"])
    return book, ids


async def test_bybit_snapshot_and_deltas_track_the_ticker() -> None:
    async with (
        stepped_simulator() as (sim, stepper),
        aiohttp.ClientSession() as http,
        connect(f"{sim.ws_url('bybit')}/v5/public/linear") as ws,
    ):
        await ws.send(json.dumps(BYBIT_SUB))
        ack = await until(ws, lambda f: f.get("op") == "subscribe")
        frames = await bybit_frames(ws, stepper, 8)
        url = f"{sim.rest_url('bybit')}/v5/market/tickers?category=linear&symbol=BTCUSDT"
        _, tickers, _ = await get_json(http, url)
    assert ack == []
    assert [f["type"] for f in frames] == ["snapshot"] + ["delta"] * (len(frames) - 1)
    assert len(frames) >= 5 and all(f["topic"] == "orderbook.50.BTCUSDT" for f in frames)
    book, ids = bybit_sync(frames)
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # u grows by one per frame
    assert len(book.bids) == 50 and len(book.asks) == 50
    row = tickers["result"]["list"][0]
    assert book.best() == (row["bid1Price"], row["bid1Size"], row["ask1Price"], row["ask1Size"])
    seqs = [f["data"]["seq"] for f in frames]
    assert seqs == sorted(seqs) and all(f["cts"] <= f["ts"] for f in frames)


async def test_bybit_gap_fault_is_a_u_jump_and_a_resubscribe_resyncs() -> None:
    async with (
        stepped_simulator(depth_gap_every=2) as (sim, stepper),
        connect(f"{sim.ws_url('bybit')}/v5/public/linear") as ws,
    ):
        await ws.send(json.dumps(BYBIT_SUB))
        await until(ws, lambda f: f.get("op") == "subscribe")
        frames = await bybit_frames(ws, stepper, 6)
        # resync the way Bybit documents: unsubscribe, subscribe, a fresh snapshot
        await ws.send(json.dumps({**BYBIT_SUB, "op": "unsubscribe"}))
        await until(ws, lambda f: f.get("op") == "unsubscribe")
        await ws.send(json.dumps(BYBIT_SUB))
        await until(ws, lambda f: f.get("op") == "subscribe")
        again = await bybit_frames(ws, stepper, 1)
        ladder = sim.ctx.market.ladders[("bybit", "BTCUSDT")]
        bids, asks = ladder.top(50)
    # the snapshot is never skipped; deltas 2, 4 and 6 are: u jumps by 2 after each gap
    steps = [b["data"]["u"] - a["data"]["u"] for a, b in pairwise(frames)]
    assert frames[0]["type"] == "snapshot" and steps == [1, 2, 2]
    assert again[0]["type"] == "snapshot"
    book, _ = bybit_sync(again)
    tick = sim.ctx.market.instruments["BTCUSDT"].tick
    assert (
        as_decimal(book.bids) == as_decimal({f"{t * tick:.2f}": f"{q}" for t, q in bids})
        and len(book.asks) == len(asks) == 50
    )


async def coinbase_frames(ws: ClientConnection, stepper: Stepper, times: int) -> list[Any]:
    """Frames of `times` steps, each read up to the answer of a repeated subscribe."""
    found: list[Any] = []
    for _ in range(times):
        stepper.step()
        await ws.send(json.dumps(COINBASE_SUB))
        found += await until(ws, lambda f: f.get("type") == "subscriptions")
    return found


def coinbase_sync(frames: list[Any]) -> Book:
    book = Book(frames[0]["bids"], frames[0]["asks"])
    for frame in frames[1:]:
        changes = frame["changes"]
        book.apply(
            [[p, s] for side, p, s in changes if side == "buy"],
            [[p, s] for side, p, s in changes if side == "sell"],
        )
    return book


async def test_coinbase_snapshot_and_l2updates_track_the_ticker() -> None:
    async with (
        stepped_simulator() as (sim, stepper),
        aiohttp.ClientSession() as http,
        connect(f"{sim.ws_url('coinbase')}") as ws,
    ):
        await ws.send(json.dumps(COINBASE_SUB))
        await until(ws, lambda f: f.get("type") == "subscriptions")
        frames = await coinbase_frames(ws, stepper, 6)
        _, top, _ = await get_json(http, f"{sim.rest_url('coinbase')}/products/BTC-USD/book")
    assert frames[0]["type"] == "snapshot" and len(frames[0]["bids"]) >= 270
    assert [f["type"] for f in frames[1:]] == ["l2update"] * 6
    assert all("sequence" not in f for f in frames)  # level2 has no sequence numbers
    book = coinbase_sync(frames)
    bid, bid_size, ask, ask_size = book.best()
    assert [bid, bid_size] == top["bids"][0][:2] and [ask, ask_size] == top["asks"][0][:2]


async def test_coinbase_gap_fault_loses_an_update_no_client_can_see() -> None:
    async with (
        stepped_simulator(depth_gap_every=2) as (sim, stepper),
        connect(f"{sim.ws_url('coinbase')}") as ws,
    ):
        await ws.send(json.dumps(COINBASE_SUB))
        await until(ws, lambda f: f.get("type") == "subscriptions")
        frames = await coinbase_frames(ws, stepper, 4)  # the 2nd and 4th l2update are lost
        skipped = sim.stats()["venues"]["coinbase"]["book_diffs_skipped"]
        ladder = sim.ctx.market.ladders[("coinbase", "BTCUSDT")]
        tick = ladder.tick
        truth = {f"{t * tick:.2f}": str(q) for t, q in ladder.bids.items()}
        truth_asks = {f"{t * tick:.2f}": str(q) for t, q in ladder.asks.items()}
    assert skipped == 2 and [f["type"] for f in frames] == ["snapshot", "l2update", "l2update"]
    assert all(set(f) == {"type", "product_id", "changes", "time"} for f in frames[1:])
    book = coinbase_sync(frames)  # applies cleanly: nothing tells the client it is wrong
    assert (as_decimal(book.bids), as_decimal(book.asks)) != (
        as_decimal(truth),
        as_decimal(truth_asks),
    )
