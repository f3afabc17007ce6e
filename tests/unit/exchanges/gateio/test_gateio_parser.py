"""Gate.io v4 parser: exact values from the real recordings in ../shared/fixtures/gateio (and
`normalize` over them), and hand-written frames for every rule and reject reason."""

from __future__ import annotations

import io

import orjson
import pytest

from microservices.common.catalog import Catalog
from microservices.common.instruments import make_instrument
from microservices.common.records import Funding, Kline, OpenInterest, Ticker, Trade
from microservices.data_collector.exchanges.gateio.exchange import GateFutures, GateSpot
from microservices.data_collector.normalize import normalize_file
from tests.fixture_paths import capture_frames, shared_fixture

RECV = 1_700_000_000_000
SPOT_CAPTURE = "gateio/ws/spot_v4_trades_obupdate_candles_ticker.cryptofeed-2021.jsonl"
FUTURES_CAPTURE = "gateio/ws/futures_usdt_v4.cryptofeed-2023.jsonl"
TARDIS = "gateio/ws/tardis-node_mappers-test_samples.jsonl"


def normalize(venue: str, relative: str) -> tuple[list[dict[str, str]], dict[str, object]]:
    out, stats = io.StringIO(), io.StringIO()
    normalize_file(venue, str(shared_fixture(relative)), out, stats)
    records = [orjson.loads(line) for line in out.getvalue().splitlines()]
    return records, orjson.loads(stats.getvalue())


def futures(contract_sizes: dict[str, float]) -> GateFutures:
    """A futures venue following contracts listed with the given quanto multipliers."""
    insts = [
        make_instrument(venue="gateio_futures", venue_symbol=v, base=v.split("_")[0],
                        quote="USDT", market="perpetual", contract_size=size,
                        funding_interval_h=4.0)
        for v, size in contract_sizes.items()
    ]  # fmt: skip
    catalog = Catalog(insts, listed=["gateio_futures"])
    follow = [v.replace("_", "") for v in contract_sizes]
    return GateFutures(follow, "wss://x.invalid", "https://x.invalid", catalog)


def parse(exchange: GateSpot, frame: object) -> tuple[list[object], dict[str, int]]:
    parser = exchange.new_parser()
    text = frame if isinstance(frame, str) else orjson.dumps(frame).decode()
    return list(parser.parse(text, RECV)), parser.stats.rejected


# ------------------------------------------------------------------ real recordings


def test_normalize_spot_capture_trades_and_candles() -> None:
    records, summary = normalize("gateio", SPOT_CAPTURE)
    assert summary["emitted"] == {"kline": 14, "trade": 9}
    assert summary["rejected"] == {"ignored": 216}  # acks, spot.tickers, order_book_update
    trade = next(r for r in records if r["type"] == "trade")
    assert (trade["venue_symbol"], trade["symbol"], trade["group"]) == ("DIS_USDT", "DISUSDT",
                                                                         "DISUSDT")  # fmt: skip
    assert (trade["price"], trade["size"], trade["side"]) == ("121.58", "0.201", "sell")
    assert (trade["trade_id"], trade["timestamp"]) == ("816995772", "1619093543.708")
    # FAST_USDT 1m bar: v is quote volume 20.54344 at 10.46 (no `a` in 2021): 1.964 base
    fast = next(r for r in records if r["type"] == "kline" and r["venue_symbol"] == "FAST_USDT")
    assert (fast["open_time"], fast["close"], fast["volume"]) == ("1619093520.000", "10.46",
                                                                   "1.964")  # fmt: skip
    assert fast["closed"] == "false" and fast["timestamp"] == "1619093534.000"


def test_normalize_futures_capture_book_tickers_and_candle() -> None:
    records, summary = normalize("gateio_futures", FUTURES_CAPTURE)
    assert summary["emitted"] == {"ticker": 75, "kline": 1}
    assert summary["rejected"] == {"ignored": 374}  # 22 acks, 352 order_book_update
    first = records[0]
    assert (first["venue_symbol"], first["timestamp"]) == ("PHB_USDT", "1684930165.621")
    assert (first["bid"], first["bid_size"], first["ask"], first["ask_size"]) == (
        "0.7379",
        "814.0",
        "0.739",
        "677.0",
    )  # fmt: skip  (no listing: contract size 1)
    kline = next(r for r in records if r["type"] == "kline")
    assert (kline["venue_symbol"], kline["open_time"], kline["close"]) == (
        "FRONT_USDT", "1684930140.000", "0.1701")  # fmt: skip


def test_real_book_ticker_sizes_scale_by_the_quanto_multiplier() -> None:
    frame = next(f for f in capture_frames(shared_fixture(FUTURES_CAPTURE))
                 if '"PHB_USDT"' in f and "book_ticker" in f)  # fmt: skip
    records, _ = parse(futures({"PHB_USDT": 10.0}), frame)
    (quote,) = records
    assert isinstance(quote, Ticker)
    assert (quote.bid, quote.bid_size, quote.ask, quote.ask_size) == (0.7379, 8140.0, 0.739, 6770.0)
    assert quote.ts_ms == 1684930165621


def test_tardis_futures_trades_tickers_and_spot_book_ticker() -> None:
    frames = list(capture_frames(shared_fixture(TARDIS)))
    sell = next(f for f in frames if '"size":-22' in f)
    (trade,), _ = parse(futures({"ETH_USDT": 0.01}), sell)
    assert isinstance(trade, Trade)
    assert (trade.side, trade.size, trade.price, trade.trade_id) == ("sell", 0.22, 225.5, "1696009")
    assert trade.ts_ms == 1593561623000  # no create_time_ms: create_time in seconds
    tickers = next(f for f in frames if '"time_ms":1677629168840' in f)
    funding, oi = parse(futures({"BTC_USDT": 0.0001}), tickers)[0]
    assert isinstance(funding, Funding) and isinstance(oi, OpenInterest)
    assert (funding.funding_rate, funding.mark_price, funding.index_price) == (
        0.0001, 23175.64, 23173.35)  # fmt: skip
    assert funding.funding_interval_h == 4.0 and funding.ts_ms == 1677629168840
    assert oi.open_interest == 153482780.0  # contracts: consumers apply the contract size
    spot = GateSpot(["ETCETH"], "wss://x.invalid", "https://x.invalid")
    book = next(f for f in frames if "spot.book_ticker" in f)
    (quote,), _ = parse(spot, book)
    assert isinstance(quote, Ticker)
    assert (quote.bid, quote.bid_size, quote.ask, quote.ask_size) == (
        0.010326,
        0.001,
        0.010366,
        10.0,
    )


# ------------------------------------------------------------------ rules, hand-written


def frame(
    channel: str, result: object, event: str = "update", **extra: object
) -> dict[str, object]:
    return {"time": 1700000000, "time_ms": 1700000000123, "channel": channel, "event": event,
            "result": result, **extra}  # fmt: skip


SPOT = GateSpot(["BTCUSDT"], "wss://x.invalid", "https://x.invalid")
TRADE = {"id": 7, "create_time": 1700000000, "create_time_ms": "1700000000456.5", "side": "buy",
         "currency_pair": "BTC_USDT", "amount": "0.5", "price": "100"}  # fmt: skip
CANDLE = {"t": "1699999980", "v": "150", "c": "101", "h": "102", "l": "99", "o": "100",
          "n": "1m_BTC_USDT", "a": "1.5", "w": True}  # fmt: skip


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (frame("spot.trades", None, "subscribe", error={"code": 2, "message": "unknown pair"}),
         "subscribe_failed"),
        ({"time": 1700000000, "channel": "spot.pong", "event": "", "result": None}, "ignored"),
        (frame("spot.trades", {"status": "success"}, "subscribe"), "ignored"),
        (frame("spot.tickers", {"currency_pair": "BTC_USDT"}), "ignored"),
        (frame("spot.order_book_update", {"s": "BTC_USDT"}), "ignored"),
        (frame("spot.nonsense", {}), "unknown_topic"),
        (frame("spot.trades", {}, "weird"), "unknown_event"),
        (frame("spot.trades", {**TRADE, "currency_pair": "ETH_USDT"}), "not_followed"),
        (frame("spot.trades", {**TRADE, "price": "NaN"}), "malformed"),
        (frame("spot.book_ticker", {"t": 1700000000000, "s": "BTC_USDT", "b": "101", "B": "1", "a": "100",
                                    "A": "1"}), "crossed_quote"),
        (frame("spot.candlesticks", {**CANDLE, "n": "5m_BTC_USDT"}), "ignored"),
        (frame("spot.candlesticks", {**CANDLE, "h": "98"}), "malformed"),
        ("not json", "malformed"),
    ],
)  # fmt: skip
def test_spot_rejects(message: object, reason: str) -> None:
    records, rejected = parse(SPOT, message)
    assert records == [] and rejected == {reason: 1}


def test_spot_trade_candle_and_duplicate() -> None:
    parser = SPOT.new_parser()
    (trade,) = parser.parse(orjson.dumps(frame("spot.trades", TRADE)), RECV)
    assert isinstance(trade, Trade)
    assert (trade.ts_ms, trade.side, trade.size, trade.trade_id) == (1700000000456, "buy", 0.5, "7")
    assert parser.parse(orjson.dumps(frame("spot.trades", TRADE)), RECV) == []
    assert parser.stats.rejected == {"duplicate": 1}
    (bar,) = parser.parse(orjson.dumps(frame("spot.candlesticks", CANDLE)), RECV)
    assert isinstance(bar, Kline)
    assert (bar.open_time_ms, bar.volume, bar.closed, bar.ts_ms) == (
        1699999980000, 1.5, True, 1700000000123)  # fmt: skip


def test_futures_rules() -> None:
    venue = futures({"BTC_USDT": 0.0001})
    trades = [{"size": 300, "id": 1, "create_time": 1700000000, "create_time_ms": 1700000000001,
               "price": "30000", "contract": "BTC_USDT"},
              {"size": -200, "id": 2, "create_time": 1700000000, "price": "29999",
               "contract": "BTC_USDT"}]  # fmt: skip
    parser = venue.new_parser()
    buy, sell = parser.parse(orjson.dumps(frame("futures.trades", trades)), RECV)
    assert isinstance(buy, Trade) and isinstance(sell, Trade)
    assert (buy.side, buy.ts_ms) == ("buy", 1700000000001) and buy.size == pytest.approx(0.03)
    assert (sell.side, sell.ts_ms) == ("sell", 1700000000000) and sell.size == pytest.approx(0.02)
    assert parser.parse(orjson.dumps(frame("futures.trades", trades)), RECV) == []
    empty = {"t": 0, "s": "BTC_USDT", "b": "", "B": 0, "a": "", "A": 0}
    assert parse(venue, frame("futures.book_ticker", empty))[1] == {"empty_book": 1}
    candle = {**CANDLE, "t": 1699999980, "v": 2000}
    del candle["a"]
    (bar,), _ = parse(venue, frame("futures.candlesticks", [candle]))
    assert isinstance(bar, Kline) and bar.volume == pytest.approx(0.2)  # 2000 contracts


def test_subscribe_frames_and_ping() -> None:
    venue = futures({"BTC_USDT": 0.0001, "ETH_USDT": 0.01})
    venue.books = True
    (plan,) = venue.ws_connections()
    assert plan.url == "wss://x.invalid" and plan.symbols == ("BTCUSDT", "ETHUSDT")
    sent = [orjson.loads(f) for f in plan.subscribe]
    assert sent[0] == {"channel": "futures.trades", "event": "subscribe",
                       "payload": ["BTC_USDT", "ETH_USDT"]}  # fmt: skip
    assert [s["channel"] for s in sent] == [
        "futures.trades",
        "futures.book_ticker",
        "futures.tickers",
        "futures.candlesticks",
        "futures.candlesticks",
        "futures.order_book_update",
        "futures.order_book_update",
    ]
    assert sent[3]["payload"] == ["1m", "BTC_USDT"] and sent[5]["payload"] == ["BTC_USDT", "100ms"]
    ping = orjson.loads(venue.ping_message() or "")
    assert ping["channel"] == "futures.ping" and isinstance(ping["time"], int)
