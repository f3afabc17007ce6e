"""KuCoin parser: exact values from the real recordings in ../shared/fixtures/kucoin (and
`normalize` over them), and hand-written frames for every rule and reject reason."""

from __future__ import annotations

import io
from typing import Any

import orjson
import pytest

from microservices.common.catalog import Catalog
from microservices.common.records import Kline, Ticker, Trade
from microservices.data_collector.exchanges.kucoin.exchange import Kucoin, KucoinBase
from microservices.data_collector.exchanges.kucoin.futures import KucoinFutures
from microservices.data_collector.exchanges.kucoin.listing import parse_contracts
from microservices.data_collector.normalize import normalize_file
from tests.fixture_paths import capture_frames, local_fixture, shared_fixture

RECV = 1_700_000_000_000
SPOT_CAPTURE = "kucoin/ws/spot_match_candles_level2_ticker.cryptofeed-2021.jsonl"
TARDIS = "kucoin/ws/tardis-node_mappers-test_samples.jsonl"
CONTRACTS = local_fixture("exchanges/kucoin/rest_contracts_active.json")


def normalize(
    venue: str, relative: str, instruments: str | None = None
) -> tuple[list[dict[str, str]], dict[str, Any]]:
    out, stats = io.StringIO(), io.StringIO()
    normalize_file(venue, str(shared_fixture(relative)), out, stats, instruments=instruments)
    records = [orjson.loads(line) for line in out.getvalue().splitlines()]
    return records, orjson.loads(stats.getvalue())


def spot(*symbols: str) -> Kucoin:
    return Kucoin(list(symbols) or ["BTCUSDT"], "wss://x.invalid", "https://x.invalid")


def futures() -> KucoinFutures:
    """Futures following BTC, SOL and AUCTION, listed by the hand-written contracts answer."""
    listing = parse_contracts(CONTRACTS.read_bytes())
    catalog = Catalog(listing.instruments, listed=["kucoin_futures"])
    follow = ["BTCUSDT", "SOLUSDT", "AUCTIONUSDT"]
    return KucoinFutures(follow, "wss://x.invalid", "https://x.invalid", catalog)


def parse(exchange: KucoinBase, frame: object) -> tuple[list[Any], dict[str, int]]:
    parser = exchange.new_parser()
    text = frame if isinstance(frame, str) else orjson.dumps(frame).decode()
    return list(parser.parse(text, RECV)), parser.stats.rejected


def message(topic: str, subject: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "topic": topic, "subject": subject, "data": data}


# ------------------------------------------------------------------ real recordings


def test_normalize_spot_capture() -> None:
    records, summary = normalize("kucoin", SPOT_CAPTURE)
    assert summary["emitted"] == {"ticker": 530, "trade": 14, "kline": 5}
    # welcome, 13 acks and 2,437 /market/level2 increments (a channel not parsed here)
    assert summary["rejected"] == {"ignored": 2451}
    ticker = next(r for r in records if r["type"] == "ticker")
    assert (ticker["venue_symbol"], ticker["symbol"], ticker["quote"]) == ("SNX-BTC", "SNXBTC",
                                                                           "BTC")  # fmt: skip
    assert (ticker["bid"], ticker["bid_size"], ticker["ask"], ticker["ask_size"]) == (
        "0.00028678", "3.70422021", "0.00028717", "14.04274325")  # fmt: skip
    assert (ticker["last"], ticker["timestamp"]) == ("0.00028676", "1619378326.323")
    trade = next(r for r in records if r["type"] == "trade")
    assert (trade["venue_symbol"], trade["price"], trade["size"], trade["side"]) == (
        "DAPPT-BTC", "1.117e-07", "81.8814", "buy")  # fmt: skip
    assert (trade["trade_id"], trade["timestamp"]) == ("6085c09769bc506996295e36",
                                                       "1619378327.739")  # ns -> ms  # fmt: skip


def test_spot_candles_of_the_capture() -> None:
    exchange = spot()
    exchange.follow_any()
    parser = exchange.new_parser()
    frames = [f for f in capture_frames(shared_fixture(SPOT_CAPTURE)) if "candles" in f]
    klines = [r for f in frames for r in parser.parse(f, RECV) if isinstance(r, Kline)]
    # trade.candles.add at 1619378328.806 s: the minute of 1619378220 s, closed by then ...
    first = klines[0]
    assert (first.venue_symbol, first.open_time_ms, first.ts_ms) == (
        "DAPPT-BTC", 1_619_378_220_000, 1_619_378_328_806)  # fmt: skip
    assert (first.open, first.close, first.volume, first.closed) == (1.116e-07, 1.116e-07, 0.0,
                                                                     True)  # fmt: skip
    # ... and the new minute of 1619378280 s, open; its update 4 s later (o, c, h, l order)
    update = klines[2]
    assert (update.open_time_ms, update.ts_ms, update.closed) == (
        1_619_378_280_000,
        1_619_378_332_805,
        False,
    )
    assert (update.open, update.high, update.low, update.close) == (
        1.117e-07,
        1.126e-07,
        1.117e-07,
        1.126e-07,
    )
    assert update.volume == 3799.1984
    bchsv = klines[3]
    assert (bchsv.venue_symbol, bchsv.open, bchsv.volume) == ("BCHSV-USDT", 242.781, 0.14324938)


def test_tardis_spot_frames() -> None:
    records, summary = normalize("kucoin", TARDIS)
    assert summary["emitted"] == {"trade": 3, "ticker": 1}
    trades = [r for r in records if r["type"] == "trade"]
    assert [(t["venue_symbol"], t["price"], t["size"], t["side"]) for t in trades] == [
        ("BTC-USDT", "24093.9", "1.255e-05", "sell"),
        ("LMR-BTC", "1.094e-06", "12.9629", "sell"),
        ("XRP-USDT", "0.37587", "66.5603", "sell"),
    ]
    assert trades[1]["trade_id"] == "455391760226305"  # a decimal id
    assert trades[0]["timestamp"] == "1660608000.026"
    ticker = next(r for r in records if r["type"] == "ticker")
    assert (ticker["bid"], ticker["ask"], ticker["last"]) == ("0.9027", "0.9052", "0.909")


def test_tardis_futures_frames_with_the_contract_listing() -> None:
    """Sizes are contracts on the wire; with a listing they become base units."""
    records, summary = normalize("kucoin_futures", TARDIS, instruments=str(CONTRACTS))
    assert summary["emitted"] == {"trade": 2, "ticker": 1}
    trades = [r for r in records if r["type"] == "trade"]
    sol, xbt = trades
    assert (sol["venue_symbol"], sol["symbol"], sol["price"], sol["size"], sol["side"]) == (
        "SOLUSDTM", "SOLUSDT", "93.624", "1.0", "sell")  # 10 contracts x 0.1 SOL  # fmt: skip
    assert (sol["trade_id"], sol["timestamp"]) == ("1701197946092", "1705708799.998")
    assert (xbt["venue_symbol"], xbt["symbol"], xbt["price"], xbt["size"]) == (
        "XBTUSDTM", "BTCUSDT", "39615.0", "0.001")  # 1 contract x 0.001 BTC  # fmt: skip
    ticker = next(r for r in records if r["type"] == "ticker")
    assert (ticker["venue_symbol"], ticker["bid"], ticker["ask"]) == ("AUCTIONUSDTM", "24.067",
                                                                      "24.08")  # fmt: skip
    assert (ticker["bid_size"], ticker["ask_size"], ticker["timestamp"]) == (
        "26.0",
        "25.0",
        "1705708800.078",
    )


def test_tardis_futures_frames_without_a_listing_stay_in_contracts() -> None:
    records, _ = normalize("kucoin_futures", TARDIS)
    sol = next(r for r in records if r["venue_symbol"] == "SOLUSDTM")
    assert sol["size"] == "10.0"


def test_futures_heartbeats_prove_the_feed_alive_without_records() -> None:
    exchange = futures()
    parser = exchange.new_parser()
    frames = [f for f in capture_frames(shared_fixture(TARDIS)) if "/contract/instrument:" in f]
    assert len(frames) == 6  # mark.index.price and funding.rate of XBTUSDTM
    for frame in frames:
        assert parser.parse_with_liveness(frame, RECV) == ([], True)


# ------------------------------------------------------------------ hand-written rules


def test_spot_ticker_trade_and_candle_values() -> None:
    (ticker,), _ = parse(spot(), message("/market/ticker:BTC-USDT", "trade.ticker", {
        "sequence": "1", "price": "65000.1", "size": "0.1", "bestAsk": "65000.2",
        "bestAskSize": "1.5", "bestBid": "65000", "bestBidSize": "2", "time": RECV - 5}))  # fmt: skip
    assert isinstance(ticker, Ticker)
    assert (ticker.symbol, ticker.bid, ticker.bid_size, ticker.ask, ticker.ask_size) == (
        "BTCUSDT", 65000.0, 2.0, 65000.2, 1.5)  # fmt: skip
    assert (ticker.last, ticker.ts_ms, ticker.recv_ms) == (65000.1, RECV - 5, RECV)
    (trade,), _ = parse(spot(), message("/market/match:BTC-USDT", "trade.l3match", {
        "side": "sell", "size": "0.5", "price": "64999", "tradeId": "abc",
        "time": str((RECV - 7) * 1_000_000 + 999_999)}))  # fmt: skip
    assert isinstance(trade, Trade)
    assert (trade.side, trade.size, trade.price, trade.ts_ms, trade.trade_id) == (
        "sell", 0.5, 64999.0, RECV - 7, "abc")  # the taker sold  # fmt: skip


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ({"id": "x", "type": "welcome"}, "ignored"),
        ({"id": "1", "type": "ack"}, "ignored"),
        ({"id": "1", "type": "pong"}, "ignored"),
        ({"id": "1", "type": "error", "code": 404, "data": "topic not found"}, "venue_error"),
        (message("/market/level2:BTC-USDT", "trade.l2update", {}), "ignored"),
        (message("/spotMarket/level2Depth50:BTC-USDT", "level2", {}), "ignored"),
        (message("/market/new:BTC-USDT", "trade.brandnew", {}), "unknown_topic"),
        (
            message(
                "/market/candles:BTC-USDT_5min",
                "trade.candles.update",
                {
                    "candles": ["1700000000", "1", "1", "1", "1", "0", "0"],
                    "time": 1_700_000_000_000_000_000,
                },
            ),
            "ignored",
        ),
        (
            message(
                "/market/ticker:ETH-USDT",
                "trade.ticker",
                {
                    "bestBid": "1",
                    "bestBidSize": "1",
                    "bestAsk": "2",
                    "bestAskSize": "1",
                    "time": RECV,
                },
            ),
            "not_followed",
        ),
        (
            message(
                "/market/ticker:BTC_USDT",
                "trade.ticker",
                {
                    "bestBid": "1",
                    "bestBidSize": "1",
                    "bestAsk": "2",
                    "bestAskSize": "1",
                    "time": RECV,
                },
            ),
            "unknown_symbol",
        ),
        (
            message(
                "/market/ticker:BTC-USDT",
                "trade.ticker",
                {
                    "bestBid": "3",
                    "bestBidSize": "1",
                    "bestAsk": "2",
                    "bestAskSize": "1",
                    "time": RECV,
                },
            ),
            "crossed_quote",
        ),
        (
            message(
                "/market/ticker:BTC-USDT",
                "trade.ticker",
                {
                    "bestBid": "0",
                    "bestBidSize": "1",
                    "bestAsk": "2",
                    "bestAskSize": "1",
                    "time": RECV,
                },
            ),
            "malformed",
        ),
        (
            message(
                "/market/match:BTC-USDT",
                "trade.l3match",
                {
                    "side": "buy",
                    "size": "1",
                    "price": "1",
                    "tradeId": 12,
                    "time": "1700000000000000000",
                },
            ),
            "malformed",
        ),
        (
            message(
                "/market/match:BTC-USDT",
                "trade.l3match",
                {
                    "side": "up",
                    "size": "1",
                    "price": "1",
                    "tradeId": "a",
                    "time": "1700000000000000000",
                },
            ),
            "malformed",
        ),
        (
            message(
                "/market/candles:BTC-USDT_1min",
                "trade.candles.update",
                {
                    "candles": ["1700000000", "5", "1", "2", "1", "0", "0"],
                    "time": 1_700_000_000_000_000_000,
                },
            ),
            "malformed",
        ),
        ("not json", "malformed"),
    ],
)
def test_spot_reject_reasons(frame: object, reason: str) -> None:
    records, rejected = parse(spot(), frame)
    assert (records, rejected) == ([], {reason: 1})


def test_a_repeated_trade_is_a_duplicate() -> None:
    parser = spot().new_parser()
    frame = orjson.dumps(message("/market/match:BTC-USDT", "trade.l3match", {
        "side": "buy", "size": "1", "price": "2", "tradeId": "t1",
        "time": "1700000000000000000"})).decode()  # fmt: skip
    assert len(parser.parse(frame, RECV)) == 1
    assert parser.parse(frame, RECV) == []
    assert parser.stats.rejected == {"duplicate": 1}


def test_liveness_of_control_frames_and_heartbeats() -> None:
    parser = spot().new_parser()
    welcome = orjson.dumps({"id": "x", "type": "welcome"}).decode()
    snapshot = orjson.dumps(message("/market/snapshot:BTC-USDT", "trade.snapshot", {
        "sequence": "1", "data": {"symbol": "BTC-USDT"}})).decode()  # fmt: skip
    assert parser.parse_with_liveness(welcome, RECV) == ([], False)
    assert parser.parse_with_liveness(snapshot, RECV) == ([], True)


def test_futures_execution_and_ticker_in_base_units() -> None:
    exchange = futures()
    (trade,), _ = parse(exchange, message("/contractMarket/execution:XBTUSDTM", "match", {
        "side": "buy", "size": 25, "price": "65000.5", "tradeId": "9",
        "ts": (RECV - 3) * 1_000_000}))  # fmt: skip
    assert isinstance(trade, Trade)
    assert (trade.symbol, trade.price, trade.side, trade.ts_ms) == ("BTCUSDT", 65000.5, "buy",
                                                                    RECV - 3)  # fmt: skip
    assert trade.size == pytest.approx(0.025)  # 25 contracts x 0.001 BTC
    (ticker,), _ = parse(exchange, message("/contractMarket/tickerV2:XBTUSDTM", "tickerV2", {
        "bestBidSize": 1000, "bestBidPrice": "65000", "bestAskPrice": "65000.1",
        "bestAskSize": 3, "ts": RECV * 1_000_000}))  # fmt: skip
    assert (ticker.bid_size, ticker.ask_size, ticker.last) == (1.0, 0.003, None)


def test_normalize_books_of_the_repo_capture() -> None:
    """`normalize --books`: each level2Depth50 push is a whole book (no sequence)."""
    out, stats = io.StringIO(), io.StringIO()
    capture = local_fixture("exchanges/kucoin/ws_spot.jsonl")
    normalize_file("kucoin", str(capture), out, stats, book_depth=0)
    summary = orjson.loads(stats.getvalue())
    assert summary["emitted"] == {"ticker": 1, "trade": 2, "kline": 2}
    assert summary["rejected"] == {"ignored": 4, "venue_error": 1}
    assert summary["books"] == {"rules": True, "applied": 1, "resyncs": {}, "dropped": {}}
    (book,) = [orjson.loads(line) for line in out.getvalue().splitlines() if '"book"' in line]
    assert (book["venue_symbol"], book["sequence"], book["snapshot"]) == ("BTC-USDT", None, True)
    assert book["bids"] == [[65000.1, 0.5], [64999.0, 2.0]]
    assert book["asks"] == [[65000.2, 1.25], [65000.5, 0.4]]
    assert book["timestamp"] == 1_700_000_002_100
