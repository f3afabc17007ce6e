"""The WebSocket loop against a tiny local venue: reconnects, silence (acks do not count as
data), rotation without gap, and the causes /health shows (geo-block, Retry-After).

The server speaks Binance's combined-stream format and streams aggTrade frames whose trade ids
come from one global sequence, so frames seen on two overlapping connections carry the same
ids (as on the real venue) and a gap would show as a missing id.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from microservices.common.backoff import Backoff
from microservices.common.records import Trade
from microservices.common.streams import build_streams
from microservices.data_collector.exchanges.binance.spot import Binance
from microservices.data_collector.venue_status import VenueStatus
from microservices.data_collector.ws_bridge import BridgeParams, WsConnectionRunner

pytestmark = pytest.mark.integration


class Venue:
    def __init__(self) -> None:
        self.sequence = 0
        self.connections = 0
        self.closed = 0
        self.acks_only_from: int | None = None  # connections from this number on send acks only
        self.paths: list[str] = []
        self.frames_per_connection: int | None = None
        self.silent_after: int | None = None
        self.acks_while_silent = False  # a silent socket keeps sending subscribe acks
        self.garbage_every: int | None = None

    def frame(self, trade_id: int) -> str:
        data = {"e": "aggTrade", "E": 1_700_000_000_000 + trade_id, "s": "BTCUSDT", "a": trade_id,
                "p": "36500.5", "q": "0.1", "f": 1, "l": 1, "T": 1_700_000_000_000 + trade_id, "m": False}  # fmt: skip
        return orjson.dumps({"stream": "btcusdt@aggTrade", "data": data}).decode()

    async def ticker(self) -> None:
        while True:
            await asyncio.sleep(0.005)
            self.sequence += 1

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        self.paths.append(request.path_qs)
        number = self.connections
        acks_only = self.acks_only_from is not None and number >= self.acks_only_from
        sender = asyncio.create_task(self.acks(ws) if acks_only else self.stream(ws))
        async for msg in ws:  # reading is what notices the client's close frame
            if msg.type == WSMsgType.ERROR:
                break
        sender.cancel()
        self.closed += 1
        return ws

    async def acks(self, ws: web.WebSocketResponse) -> None:
        while not ws.closed:
            await asyncio.sleep(0.005)
            await ws.send_str('{"result":null,"id":1}')

    async def stream(self, ws: web.WebSocketResponse) -> None:
        sent = 0
        last = self.sequence
        while not ws.closed:
            await asyncio.sleep(0.005)
            if self.silent_after is not None and sent >= self.silent_after:
                if self.acks_while_silent:
                    await ws.send_str('{"result":null,"id":1}')
                continue
            for trade_id in range(last + 1, self.sequence + 1):
                if self.garbage_every and trade_id % self.garbage_every == 0:
                    await ws.send_str("{not json")
                await ws.send_str(self.frame(trade_id))
                sent += 1
            last = self.sequence
            if self.frames_per_connection is not None and sent >= self.frames_per_connection:
                await ws.close()


class Collected:
    def __init__(self) -> None:
        self.records: list[Trade] = []

    def publish(self, stream: Any, record: Any) -> None:
        self.records.append(record)

    def ids(self) -> list[int]:
        return [int(r.trade_id) for r in self.records]


@pytest.fixture
async def venue() -> AsyncIterator[tuple[Venue, str]]:
    state = Venue()
    app = web.Application()
    app.router.add_get("/binance/stream", state.handle)
    server = TestServer(app)
    await server.start_server()
    ticker = asyncio.create_task(state.ticker())
    yield state, f"ws://127.0.0.1:{server.port}/binance"
    ticker.cancel()
    await server.close()


def runner(base: str, **params: Any) -> tuple[WsConnectionRunner, Collected]:
    exchange = Binance(["BTCUSDT"], ws_url=base, rest_url="http://unused")
    plan = exchange.ws_connections()[0]
    sink = Collected()
    status = VenueStatus()
    defaults: dict[str, Any] = {"backoff": Backoff(base_s=0.01, cap_s=0.05, jitter=0.0),
                                "silence_timeout_s": 5.0}  # fmt: skip
    bridge = BridgeParams(**(defaults | params))
    status.register(plan.label, "binance", bridge.silence_timeout_s)
    conn = WsConnectionRunner(exchange, plan, sink, build_streams("t:").raw, status,  # type: ignore[arg-type]
                              bridge)  # fmt: skip
    return conn, sink


async def run_until(conn: WsConnectionRunner, predicate: Any, timeout_s: float = 20.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(conn.run(stop))

    async def wait() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(wait(), timeout=timeout_s)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


async def test_subscribes_through_the_combined_stream_url(venue: tuple[Venue, str]) -> None:
    state, base = venue
    conn, sink = runner(base)
    await run_until(conn, lambda: len(sink.records) >= 5)
    assert (
        state.paths[0]
        == "/binance/stream?streams=btcusdt@aggTrade/btcusdt@bookTicker/btcusdt@kline_1m"
    )
    assert sink.records[0].symbol == "BTCUSDT" and sink.records[0].price == 36500.5


async def test_reconnects_after_the_server_closes(venue: tuple[Venue, str]) -> None:
    state, base = venue
    state.frames_per_connection = 20
    conn, sink = runner(base)
    await run_until(conn, lambda: state.connections >= 3 and len(sink.records) >= 40)
    assert state.connections >= 3
    assert len(set(sink.ids())) == len(sink.ids())  # no duplicates published
    assert conn.status.summary()["binance"]["reconnects"] >= 2


async def test_silent_socket_is_replaced(venue: tuple[Venue, str]) -> None:
    state, base = venue
    state.silent_after = 3
    conn, sink = runner(base, silence_timeout_s=0.3)
    await run_until(conn, lambda: state.connections >= 3)
    assert conn.status.summary()["binance"]["last_cause"] == "silent 0.3s"
    assert len(sink.records) >= 6  # three frames from each connection before it went quiet


async def test_acks_do_not_keep_a_silent_socket(venue: tuple[Venue, str]) -> None:
    """A socket that only sends control frames (acks, pongs) is as silent as a quiet one."""
    state, base = venue
    state.silent_after, state.acks_while_silent = 3, True
    conn, sink = runner(base, silence_timeout_s=0.3)
    await run_until(conn, lambda: state.connections >= 3)
    summary = conn.status.summary()["binance"]
    assert summary["last_cause"] == "silent 0.3s" and summary["reconnects"] >= 2
    assert conn.parser.stats.rejected["ignored"] > 10  # the acks kept coming
    assert len(sink.records) >= 6


async def test_rotation_keeps_the_venue_connected(venue: tuple[Venue, str]) -> None:
    state, base = venue
    conn, _ = runner(base, rotate_after_s=0.2)
    seen: list[str] = []

    def sample_until_rotated_twice() -> bool:
        if state.connections >= 2:  # from the first rotation on
            seen.append(conn.status.summary()["binance"]["state"])
        return state.connections >= 4

    await run_until(conn, sample_until_rotated_twice)
    assert seen and set(seen) == {"connected"}  # never "reconnecting" across a rotation
    assert conn.status.summary()["binance"]["reconnects"] == 0  # rotations are not reconnects


async def test_rotation_opens_the_new_socket_before_closing_the_old(
    venue: tuple[Venue, str],
) -> None:
    state, base = venue
    conn, sink = runner(base, rotate_after_s=0.4)
    await run_until(conn, lambda: state.connections >= 4 and len(sink.records) >= 200)
    ids = sink.ids()
    assert len(set(ids)) == len(ids)  # overlap duplicates were dropped by trade id
    assert sorted(ids) == list(range(min(ids), max(ids) + 1))  # and nothing was missed
    assert conn.parser.stats.rejected.get("duplicate", 0) >= 0


async def test_a_replacement_that_never_delivers_is_closed(venue: tuple[Venue, str]) -> None:
    """A rotation whose new socket only sends acks gives up on it and closes it, then
    reconnects: no socket is left open behind the runner's back."""
    state, base = venue
    state.acks_only_from = 2
    conn, _ = runner(base, rotate_after_s=0.2, silence_timeout_s=0.3)
    await run_until(conn, lambda: state.connections >= 3 and state.closed >= state.connections - 1)
    assert conn.status.summary()["binance"]["reconnects"] >= 1


async def test_garbage_frames_are_counted_and_skipped(venue: tuple[Venue, str]) -> None:
    state, base = venue
    state.garbage_every = 5
    conn, sink = runner(base)
    await run_until(conn, lambda: len(sink.records) >= 50)
    assert conn.parser.stats.rejected["malformed"] >= 9
    assert all(r.price == 36500.5 for r in sink.records)


async def test_unreachable_venue_backs_off_within_the_cap() -> None:
    conn, sink = runner("ws://127.0.0.1:9/binance", backoff=Backoff(base_s=0.01, cap_s=0.02))
    await run_until(conn, lambda: conn.attempt >= 5)
    assert sink.records == []
    summary = conn.status.summary()["binance"]
    assert (summary["state"], summary["last_cause"]) == ("disconnected", "refused")


@pytest.fixture
async def refusing() -> AsyncIterator[tuple[list[web.Request], dict[str, Any], str]]:
    """A venue answering every handshake with an HTTP error (`answer`: status, headers)."""
    seen: list[web.Request] = []
    answer: dict[str, Any] = {"status": 451, "headers": {}}

    async def handle(request: web.Request) -> web.Response:
        seen.append(request)
        return web.Response(status=answer["status"], headers=answer["headers"], text="blocked")

    app = web.Application()
    app.router.add_get("/binance/stream", handle)
    server = TestServer(app)
    await server.start_server()
    yield seen, answer, f"ws://127.0.0.1:{server.port}/binance"
    await server.close()


async def test_geo_blocked_venue_is_reported_and_retried_slowly(
    refusing: tuple[list[web.Request], dict[str, Any], str],
) -> None:
    seen, _, base = refusing
    conn, _ = runner(base, geo_block_retry_s=900.0)  # the backoff alone would retry in 10 ms
    await run_until(conn, lambda: conn.status.summary()["binance"]["reconnects"] >= 1)
    summary = conn.status.summary()["binance"]
    assert summary["last_cause"] == "HTTP 451 geo-block"
    assert summary["retry_delay_s"] == 900.0
    assert len(seen) == 1


async def test_handshake_retry_after_is_honoured(
    refusing: tuple[list[web.Request], dict[str, Any], str],
) -> None:
    seen, answer, base = refusing
    answer.update(status=429, headers={"Retry-After": "120"})
    conn, _ = runner(base)
    await run_until(conn, lambda: conn.status.summary()["binance"]["reconnects"] >= 1)
    summary = conn.status.summary()["binance"]
    assert (summary["last_cause"], summary["retry_delay_s"]) == ("429", 120.0)
    assert len(seen) == 1


def test_backoff_never_exceeds_its_cap() -> None:
    backoff = Backoff(base_s=5.0, cap_s=60.0, jitter=0.5)
    rng = random.Random(7)
    delays = [backoff.delay(attempt, rng) for attempt in range(200)]
    assert max(delays) <= 60.0
    assert 2.5 <= delays[0] <= 5.0  # seed's 5 s base, jittered down by at most half
    assert Backoff(jitter=0.0).delay(3) == 40.0
