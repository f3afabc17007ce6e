"""Bitget v2 `books` from the simulator, read by an independent client (no production book
code): a snapshot after subscribe, then updates with an increasing `seq` and a checksum that
a CRC32 written here agrees with; the book's top equals the ticker's; the gap fault breaks
the checksum; acks, error events and the text ping/pong; one connection per instType."""

from __future__ import annotations

import json
import zlib
from decimal import Decimal
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from tests.unit.simulator.l2_client import Book, Stepper, stepped_simulator

FUTURES = {"instType": "USDT-FUTURES", "channel": "books", "instId": "BTCUSDT"}
TICKER = {"instType": "USDT-FUTURES", "channel": "ticker", "instId": "BTCUSDT"}


async def frames_until_pong(ws: ClientConnection) -> list[Any]:
    """JSON frames received before the answer to a text `ping` (the text `pong`)."""
    await ws.send("ping")
    found = []
    while (text := await ws.recv()) != "pong":
        found.append(json.loads(text))
    return found


async def stepped(ws: ClientConnection, stepper: Stepper, times: int) -> list[Any]:
    found: list[Any] = []
    for _ in range(times):
        stepper.step()
        found += await frames_until_pong(ws)
    return found


def crc(book: Book) -> int:
    """Bitget's checksum, written independently: best 25 a side, bid:size:ask:size:..."""
    bids = sorted(book.bids.items(), key=lambda kv: -Decimal(kv[0]))[:25]
    asks = sorted(book.asks.items(), key=lambda kv: Decimal(kv[0]))[:25]
    parts: list[str] = []
    for i in range(max(len(bids), len(asks))):
        for side in (bids, asks):
            if i < len(side):
                parts += side[i]
    value = zlib.crc32(":".join(parts).encode())
    return value - 2**32 if value >= 2**31 else value


def replay(frames: list[Any]) -> tuple[Book, list[bool]]:
    """The book from the `books` frames, and whether each update's checksum matched."""
    book, matched = Book([], []), []
    for frame in frames:
        data = frame["data"][0]
        if frame["action"] == "snapshot":
            book = Book(data["bids"], data["asks"])
            assert data["checksum"] == 0
        else:
            book.apply(data["bids"], data["asks"])
            matched.append(crc(book) == data["checksum"])
    return book, matched


async def test_snapshot_updates_and_checksums() -> None:
    async with (
        stepped_simulator() as (sim, stepper),
        connect(f"{sim.ws_url('bitget')}/v2/ws/public") as ws,
    ):
        await ws.send(json.dumps({"op": "subscribe", "args": [FUTURES, TICKER]}))
        frames = await stepped(ws, stepper, 10)
    acks = [f for f in frames if "event" in f]
    assert acks == [{"event": "subscribe", "arg": FUTURES}, {"event": "subscribe", "arg": TICKER}]
    books = [f for f in frames if "action" in f and f["arg"]["channel"] == "books"]
    assert [f["action"] for f in books] == ["snapshot"] + ["update"] * (len(books) - 1)
    assert len(books) >= 5
    seqs = [f["data"][0]["seq"] for f in books]
    assert seqs == sorted(set(seqs))
    book, matched = replay(books)
    assert all(matched) and len(matched) == len(books) - 1
    tickers = [f["data"][0] for f in frames if "action" in f and f["arg"]["channel"] == "ticker"]
    last = tickers[-1]
    assert book.best() == (last["bidPr"], last["bidSz"], last["askPr"], last["askSz"])


async def test_the_gap_fault_breaks_the_checksum() -> None:
    async with (
        stepped_simulator(depth_gap_every=3) as (sim, stepper),
        connect(f"{sim.ws_url('bitget')}/v2/ws/public") as ws,
    ):
        await ws.send(json.dumps({"op": "subscribe", "args": [FUTURES]}))
        frames = await stepped(ws, stepper, 12)
    _, matched = replay([f for f in frames if "action" in f])
    assert not all(matched)


async def test_spot_connection_errors_and_pong() -> None:
    spot = {**FUTURES, "instType": "SPOT"}
    unknown = {**spot, "instId": "NOPEUSDT"}
    async with (
        stepped_simulator() as (sim, stepper),
        connect(f"{sim.ws_url('bitget')}/v2/ws/public") as ws,
    ):
        await ws.send(json.dumps({"op": "subscribe", "args": [spot, unknown, FUTURES]}))
        await ws.send("not json")
        frames = await stepped(ws, stepper, 3)
    events = [f for f in frames if "event" in f]
    assert events[0] == {"event": "subscribe", "arg": spot}
    assert [(e["event"], e["code"]) for e in events[1:]] == [("error", 30001)] * 3
    data = [f for f in frames if "action" in f]
    assert data and all(f["arg"] == spot for f in data)  # the connection serves SPOT only
