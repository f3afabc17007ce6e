"""Deribit's simulator dialect without sockets: JSON-RPC answers (subscribe lists what took,
`.raw` refused), heartbeats (a `test_request` every interval; one left unanswered closes the
connection), the frames it renders (ticker, trades with a liquidation, chart, book snapshot
and changes chained by id), and that the collector's parser and book rules read them."""

from __future__ import annotations

from typing import Any

import orjson

from microservices.common.orderbook.sync import BookUpdate
from microservices.common.records import Kline, Liquidation, Ticker, Trade
from microservices.data_collector.exchanges.deribit.book import BOOKS
from microservices.data_collector.exchanges.deribit.simulator.ws import DeribitDialect
from microservices.exchange_simulator.config import MarketConfig
from microservices.exchange_simulator.market import Liquidation as LiquidationEvent
from microservices.exchange_simulator.market import MarketModel
from tests.unit.exchanges.deribit.helpers import LinearFirst

START_MS = 1_700_000_000_000
BTC = "BTC_USDC-PERPETUAL"


class Stats:
    server_closes = 0


class FakeSession:
    """What the dialect touches of a connection."""

    def __init__(self, conn_id: str = "c1") -> None:
        self.conn_id, self.closing, self.stats = conn_id, False, Stats()
        self.sent: list[Any] = []
        self.subs: set[str] = set()
        self.closed_later = False

    def send_control(self, message: dict[str, Any], key: str = "_control") -> None:
        self.sent.append(message)

    def subscribe(self, keys: list[str]) -> list[str]:
        self.subs.update(keys)
        return keys

    def unsubscribe(self, keys: list[str]) -> None:
        self.subs.difference_update(keys)

    def close_later(self) -> None:
        self.closed_later = True


def dialect() -> DeribitDialect:
    market = MarketModel(MarketConfig(symbols=("BTCUSDT", "ETHUSDT"), seed=3), START_MS,
                         ["deribit"])  # fmt: skip
    return DeribitDialect(market)


def send(d: DeribitDialect, session: FakeSession, method: str, params: Any, rid: int) -> Any:
    body = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}
    d.on_message(session, orjson.dumps(body).decode())  # type: ignore[arg-type]
    return session.sent[-1]


def test_subscribe_answers_the_channels_that_took() -> None:
    d, session = dialect(), FakeSession()
    channels = [f"ticker.{BTC}.100ms", f"book.{BTC}.raw", "ticker.NOPE-PERPETUAL.100ms",
                f"chart.trades.{BTC}.1", f"trades.{BTC}.100ms"]  # fmt: skip
    answer = send(d, session, "public/subscribe", {"channels": channels}, 7)
    assert answer["id"] == 7
    assert answer["result"] == [f"ticker.{BTC}.100ms", f"chart.trades.{BTC}.1",
                                f"trades.{BTC}.100ms"]  # fmt: skip
    assert send(d, session, "public/unsubscribe", {"channels": [f"trades.{BTC}.100ms"]}, 8)[
        "result"] == [f"trades.{BTC}.100ms"]  # fmt: skip
    assert send(d, session, "public/nope", {}, 9)["error"]["code"] == -32601
    assert send(d, session, "public/set_heartbeat", {"interval": 5}, 10)["error"]["code"] == -32602


def test_heartbeat_test_requests_and_the_close() -> None:
    d, session = dialect(), FakeSession()
    assert send(d, session, "public/set_heartbeat", {"interval": 10}, 1)["result"] == "ok"
    d.beat(START_MS + 9_999)
    assert session.sent[-1]["result"] == "ok"  # not due yet
    d.beat(START_MS + 10_000)
    assert session.sent[-1] == {"jsonrpc": "2.0", "method": "heartbeat",
                                "params": {"type": "test_request"}}  # fmt: skip
    assert send(d, session, "public/test", {}, 2)["result"] == {"version": "1.2.26"}
    d.beat(START_MS + 20_000)  # answered: a new test_request
    assert session.sent[-1]["params"] == {"type": "test_request"} and not session.closed_later
    d.beat(START_MS + 30_000)  # not answered: closed
    assert session.closed_later and session.stats.server_closes == 1


def test_rendered_frames_are_what_the_collector_reads() -> None:
    d = dialect()
    wanted = {f"{c}.{BTC}.100ms" for c in ("ticker", "trades", "book")} | {
        f"chart.trades.{BTC}.1"}  # fmt: skip
    exchange = LinearFirst(("BTCUSDT",), "ws://sim", "http://sim")  # the simulated instrument
    parser, books = exchange.new_parser(), BOOKS.new()
    frames = [item[2] for item in d.initial_frames(sorted(wanted))]
    for step in range(1, 40):
        events = d.market.step(START_MS + step * 250, {("deribit", "BTCUSDT")})
        if step == 20:
            events.append(LiquidationEvent("deribit", "BTCUSDT", START_MS + 5_000, True,
                                           60_000.0, 0.5))  # fmt: skip
        frames += [orjson.dumps(payload) for _, payload in d.render(events, wanted)]
    records: list[Any] = []
    book_results = []
    for frame in frames:
        text = frame.decode()
        if BOOKS.router()(text):
            book_results.append(books.on_frame(text))
        else:
            records += parser.parse(text, START_MS + 10_000)
    kinds = {type(r) for r in records}
    assert {Ticker, Trade, Kline, Liquidation} <= kinds, parser.stats.rejected
    assert parser.stats.rejected.get("malformed", 0) == 0
    (liquidation,) = [r for r in records if isinstance(r, Liquidation)]
    assert (liquidation.side, liquidation.price, liquidation.size) == ("sell", 60_000.0, 0.5)
    assert book_results and all(isinstance(r, BookUpdate) and r.applied for r in book_results)
    assert books.books.stats.resyncs == {}
    assert any(d.is_book_diff(f"book.{BTC}.100ms", f) for f in frames)  # a change to skip
