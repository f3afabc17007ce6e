"""Which frames prove a venue's feed alive (`VenueParser.parse_with_liveness`), per venue, on
the repo's frames written from the documented formats: market data and heartbeats do, even
when they yield no record (a duplicate trade, an unfollowed symbol, an idle book snapshot);
pings, pongs, subscribe acks, errors, unsubscribed channels and garbage never do. The WS
bridge resets its silence timer only on live frames."""

from __future__ import annotations

import orjson
import pytest

from microservices.data_collector.exchanges import EXCHANGES
from microservices.data_collector.exchanges.base import Exchange
from tests.fixture_paths import capture_frames, local_fixture

RECV_MS = 1_700_000_060_000
SYMBOLS = ("BTCUSDT", "ETHUSDT")


def make(venue: str) -> Exchange:
    return EXCHANGES[venue](SYMBOLS, "wss://venue.invalid", "https://venue.invalid")


def frames(venue: str, name: str) -> list[str]:
    return list(capture_frames(local_fixture(f"exchanges/{venue}/{name}")))


def liveness(venue: str, sequence: list[str]) -> list[bool]:
    """Feed `sequence` to one parser, in order; the liveness of each frame."""
    parser = make(venue).new_parser()
    flags = []
    for frame in sequence:
        records, alive = parser.parse_with_liveness(frame, RECV_MS)
        assert alive or records == []
        flags.append(alive)
    return flags


def dumps(obj: object) -> str:
    return orjson.dumps(obj).decode()


GARBAGE = '{"topic":"publicTrade.BTCUSDT","data":[{'  # a frame cut in half


def test_binance_spot() -> None:
    control = frames("binance", "ws_control.jsonl")  # ack, depthUpdate, 24hrTicker, shutdown
    trade = frames("binance", "ws_aggTrade.jsonl")[0]
    unfollowed = trade.replace("BTCUSDT", "XYZUSDT").replace("btcusdt", "xyzusdt")
    errors = [dumps({"code": 2, "msg": "Invalid request"}),
              dumps({"error": {"code": 2, "msg": "Invalid request"}, "id": 3})]  # fmt: skip
    data = [trade, trade, unfollowed, frames("binance", "ws_bookTicker.jsonl")[0],
            frames("binance", "ws_kline.jsonl")[0]]  # fmt: skip
    assert liveness("binance", [*control, *errors, GARBAGE]) == [False] * 7
    # the second copy of the trade is a duplicate: no record, but the feed is alive
    assert liveness("binance", data) == [True] * 5


def test_binance_futures() -> None:
    control = frames("binance_futures", "ws_control.jsonl")  # ack, depthUpdate, 24hrTicker
    mark = frames("binance_futures", "ws_markPrice.jsonl")[0]
    liquidation = frames("binance_futures", "ws_forceOrder.jsonl")[0]
    assert liveness("binance_futures", [*control, GARBAGE]) == [False] * 4
    assert liveness("binance_futures", [mark, liquidation]) == [True, True]


def test_bybit_linear() -> None:
    # subscribe ack, pong, failed subscribe, orderbook.50 (not subscribed), unknown topic
    control = frames("bybit", "ws_control.jsonl")
    pong = dumps({"success": True, "ret_msg": "pong", "conn_id": "c1", "req_id": "ping",
                  "op": "ping"})  # fmt: skip
    trades = frames("bybit", "ws_publicTrade.jsonl")  # the third repeats the first
    tickers = frames("bybit", "ws_tickers.jsonl")  # snapshot, then deltas
    kline = frames("bybit", "ws_kline.jsonl")[0]
    assert liveness("bybit", [*control, pong, GARBAGE]) == [False] * 7
    assert liveness("bybit", [*trades[:3], *tickers, kline]) == [True] * (4 + len(tickers))


def test_bybit_spot() -> None:
    control = frames("bybit_spot", "ws_control.jsonl")  # ack, pong (spot form), tickers
    # BTC snapshot, ETH snapshot with an empty side, BTC delta, orderbook.50 (not subscribed),
    # SOL delta before any snapshot
    btc, eth_empty, delta, depth50, sol_no_snapshot = frames("bybit_spot", "ws_orderbook.jsonl")
    idle = btc  # level 1 re-sends an unchanged snapshot every 3 s when nothing trades
    assert liveness("bybit_spot", [*control, depth50, GARBAGE]) == [False] * 5
    assert (
        liveness("bybit_spot", [btc, eth_empty, delta, sol_no_snapshot, idle, idle]) == [True] * 6
    )


def test_coinbase() -> None:
    subscriptions, heartbeat, error, l2update, unknown = frames("coinbase", "ws_control.jsonl")
    matches = frames("coinbase", "ws_matches.jsonl")
    ticker = frames("coinbase", "ws_ticker.jsonl")[0]
    unfollowed = ticker.replace("BTC-USD", "XYZ-USD")
    bad_heartbeat = heartbeat.replace('"sequence":', '"sequence_":')
    assert liveness("coinbase", [subscriptions, error, l2update, unknown, GARBAGE,
                                 bad_heartbeat]) == [False] * 6  # fmt: skip
    # the heartbeat channel proves the feed alive while nothing trades; so does a replayed
    # last_match (a duplicate) and a ticker of a product we do not follow
    assert (
        liveness("coinbase", [heartbeat, matches[0], matches[0], ticker, unfollowed]) == [True] * 5
    )


@pytest.mark.parametrize("venue", sorted(EXCHANGES))
def test_every_connection_subscribes_a_channel_that_always_flows(venue: str) -> None:
    exchange = make(venue)
    assert exchange.always_flowing, f"{venue} names no channel that flows without trades"
    for plan in exchange.ws_connections():
        wire = " ".join((plan.url, *plan.subscribe))
        assert exchange.always_flowing in wire, (venue, wire)
