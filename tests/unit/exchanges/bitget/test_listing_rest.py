"""Bitget v2 listings, naming rule, subscriptions and REST: request builders and parsers on
answers written from the v2 documentation's examples (tests/fixtures/exchanges/bitget), and
the venue error envelope. The recorded listings in ../shared/fixtures/bitget are of the
decommissioned v1 API (`BTCUSDT_UMCBL`): they show only that v1 rows are not v2 rows."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from microservices.common.errors import BadMessage
from microservices.common.records import Funding, Kline, OpenInterest
from microservices.data_collector.exchanges.base import RestRequest
from microservices.data_collector.exchanges.bitget.exchange import Bitget, BitgetSpot
from microservices.data_collector.exchanges.bitget.listing import (
    parse_listing_body,
    symbol_instrument,
)
from tests.fixture_paths import local_fixture, shared_fixture

RECV_MS = 1_695_900_000_000


def load(name: str) -> Any:
    return orjson.loads(local_fixture(f"exchanges/bitget/{name}").read_bytes())


def test_spot_symbols() -> None:
    result = BitgetSpot(["BTCUSDT"], "wss://x", "https://x").parse_listing(
        load("rest_spot_symbols.json"))  # fmt: skip
    listed, cursor = result
    assert cursor is None
    by_symbol = {i.venue_symbol: i for i in listed.instruments}
    btc = by_symbol["BTCUSDT"]
    assert (btc.venue, btc.symbol, btc.base, btc.quote, btc.market) == (
        "bitget_spot", "BTCUSDT", "BTC", "USDT", "spot")  # fmt: skip
    assert (btc.tick_size, btc.lot_size, btc.status) == (0.01, 0.000001, "trading")
    assert (by_symbol["ETHBTC"].status, by_symbol["ETHBTC"].tick_size) == ("halted", 0.000001)
    assert by_symbol["NEWUSDT"].status == "pending"  # grey launch
    assert by_symbol["ODDUSDT"].status == "halted"  # an unknown status, flagged
    assert listed.flagged == {"unknown_status": 1} and listed.skipped == {"malformed": 1}


def test_usdt_futures_contracts() -> None:
    exchange = Bitget(["BTCUSDT"], "wss://x", "https://x")
    listed, _ = exchange.parse_listing(load("rest_mix_contracts.json"))
    by_symbol = {i.venue_symbol: i for i in listed.instruments}
    btc = by_symbol["BTCUSDT"]
    assert (btc.symbol, btc.market, btc.inverse, btc.settle) == ("BTCUSDT", "perpetual", False,
                                                                 "USDT")  # fmt: skip
    assert (btc.tick_size, btc.lot_size, btc.funding_interval_h) == (0.1, 0.001, 8.0)
    pepe = by_symbol["1000PEPEUSDT"]  # priceEndStep 5 at 7 places, a 1000-unit quote
    assert (pepe.symbol, pepe.base, pepe.price_multiplier) == ("1000PEPEUSDT", "PEPE", 1000)
    assert pepe.tick_size == pytest.approx(0.0000005) and pepe.funding_interval_h == 4.0
    dated = by_symbol["BTCUSDT0328"]
    assert (dated.market, dated.expiry_ms, dated.status) == ("future", 1_774_684_800_000,
                                                             "pending")  # fmt: skip
    assert dated.symbol == "BTCUSDT-20260328"
    assert by_symbol["XYZUSDT"].status == "delisted"
    assert listed.skipped == {"unknown_contract_type": 1}


def test_listing_errors_and_v1_recordings() -> None:
    assert parse_listing_body(load("rest_error.json"), "bitget", False).skipped == {
        "api_error": 1}  # fmt: skip
    assert parse_listing_body(b"{", "bitget", True).skipped == {"bad_json": 1}
    v1 = shared_fixture("bitget/rest/LEGACY_api_mix_v1_market_contracts_umcbl.TRIMMED"
                        ".cryptofeed-2022.json")  # fmt: skip
    legacy = parse_listing_body(v1.read_bytes(), "bitget", False)
    assert legacy.instruments == [] and legacy.skipped == {"malformed": 5}  # no symbolStatus


def test_requests_of_the_listings_and_24h_tickers() -> None:
    futures = Bitget(["BTCUSDT"], "wss://x", "https://x")
    spot = BitgetSpot(["BTCUSDT"], "wss://x", "https://x")
    assert futures.listing_request(None) == RestRequest(
        "/api/v2/mix/market/contracts", {"productType": "USDT-FUTURES"})  # fmt: skip
    request = spot.listing_request(None)
    assert request is not None and request.path == "/api/v2/spot/public/symbols"
    tickers = spot.tickers_24h_request()
    assert tickers is not None and tickers.path == "/api/v2/spot/market/tickers"
    rows = spot.parse_tickers_24h(load("rest_spot_tickers.json"))
    assert [(r.venue_symbol, r.last, r.quote_volume) for r in rows] == [
        ("BTCUSDT", 26500.5, 1234567.89), ("ETHUSDT", None, None)]  # fmt: skip


@pytest.mark.parametrize(
    ("venue", "symbol", "expected"),
    [("bitget", "BTCUSDT", ("BTCUSDT", "perpetual", "USDT")),
     ("bitget", "1000PEPEUSDT", ("1000PEPEUSDT", "perpetual", "USDT")),
     ("bitget_spot", "ETHBTC", ("ETHBTC", "spot", "BTC")),
     ("bitget_spot", "BTCUSDC", ("BTCUSDC", "spot", "USDC"))],
)  # fmt: skip
def test_naming_rule(venue: str, symbol: str, expected: tuple[str, str, str]) -> None:
    inst = symbol_instrument(symbol, venue)
    assert inst is not None and (inst.symbol, inst.market, inst.quote) == expected
    assert symbol_instrument("BTCUSDC", "bitget") is None  # USDT-FUTURES are USDT-margined


def test_subscriptions_stay_within_the_limits() -> None:
    symbols = [f"C{i}USDT" for i in range(40)]
    exchange = Bitget(symbols, "wss://ws.bitget.com", "https://x")
    exchange.books = True
    plans = exchange.ws_connections()
    assert [len(p.symbols) for p in plans] == [25, 15]  # 4 channels, 100 a connection
    assert all(p.url == "wss://ws.bitget.com/v2/ws/public" for p in plans)
    first = [orjson.loads(f) for f in plans[0].subscribe]
    assert [len(f["args"]) for f in first] == [50, 50]  # args per frame
    assert first[0]["op"] == "subscribe" and first[0]["args"][:4] == [
        {"instType": "USDT-FUTURES", "channel": c, "instId": "C0USDT"}
        for c in ("trade", "ticker", "candle1m", "books")]  # fmt: skip
    assert exchange.ping_message() == "ping" and exchange.ping_interval_s == 30.0


def test_candles_of_both_markets() -> None:
    spot = BitgetSpot(["BTCUSDT"], "wss://x", "https://x")
    request = spot.klines_request("BTCUSDT", 1_695_800_160_000, 1_695_800_279_999)
    assert (request.path, request.params) == ("/api/v2/spot/market/candles", {
        "symbol": "BTCUSDT", "granularity": "1min", "startTime": "1695800160000",
        "endTime": "1695800279999", "limit": "1000"})  # fmt: skip
    bars = spot.parse_klines("BTCUSDT", load("rest_spot_candles.json"), 1_695_800_250_000)
    assert [(k.open_time_ms, k.open, k.high, k.low, k.close, k.volume, k.closed) for k in bars] == [
        (1_695_800_160_000, 26210.5, 26221.1, 26201.2, 26215.4, 12.3456, True),
        (1_695_800_220_000, 26215.4, 26230.0, 26210.0, 26228.7, 8.25, False)]  # fmt: skip
    futures = Bitget(["BTCUSDT"], "wss://x", "https://x")
    mix = futures.klines_request("BTCUSDT", 0, 60_000)
    assert mix.path == "/api/v2/mix/market/candles"
    assert (mix.params["granularity"], mix.params["productType"]) == ("1m", "USDT-FUTURES")
    rows = futures.parse_klines("BTCUSDT", load("rest_mix_candles.json"), RECV_MS)
    assert [k.close for k in rows] == [26194.5, 26180.0]  # the third row's open > high
    assert all(isinstance(k, Kline) and k.exchange == "bitget" for k in rows)


def test_funding_history_current_funding_and_open_interest() -> None:
    futures = Bitget(["BTCUSDT"], "wss://x", "https://x")
    history = futures.funding_history_request("BTCUSDT", 0, 1)
    assert history is not None and history.params == {
        "symbol": "BTCUSDT",
        "productType": "USDT-FUTURES",
        "pageSize": "100",
        "pageNo": "1",
    }
    rows = futures.parse_funding_history("BTCUSDT", load("rest_history_fund_rate.json"), RECV_MS)
    assert [(f.ts_ms, f.funding_rate, f.funding_interval_h) for f in rows] == [
        (1_695_744_000_000, -0.000092, 8.0),
        (1_695_772_800_000, 0.000068, 8.0),
    ]  # rate 2: bad
    (current,) = futures.parse_current_funding("BTCUSDT", load("rest_current_fund_rate.json"),
                                               RECV_MS)  # fmt: skip
    assert isinstance(current, Funding)
    assert (current.ts_ms, current.funding_rate, current.funding_interval_h,
            current.next_funding_time_ms) == (1_743_054_394_296, 0.000068, 4.0,
                                              1_743_062_400_000)  # fmt: skip
    assert futures.interval_of("BTCUSDT") == 4.0  # remembered for the history
    (oi,) = futures.parse_current_open_interest("BTCUSDT", load("rest_open_interest.json"), 0)
    assert isinstance(oi, OpenInterest)
    assert (oi.ts_ms, oi.open_interest, oi.open_interest_usd) == (1_695_796_781_616, 34278.06,
                                                                  None)  # fmt: skip
    with pytest.raises(BadMessage):
        futures.parse_current_open_interest("BTCUSDT", {"code": "00000", "data": {}}, 0)


def test_spot_has_no_funding_or_open_interest_and_errors_are_refused() -> None:
    spot = BitgetSpot(["BTCUSDT"], "wss://x", "https://x")
    assert spot.funding_history_request("BTCUSDT", 0, 1) is None
    assert spot.current_funding_request("BTCUSDT") is None
    assert spot.current_open_interest_request("BTCUSDT") is None
    assert spot.open_interest_history_request("BTCUSDT", 0, 1) is None
    spot.check_rest_payload(load("rest_spot_candles.json"))
    with pytest.raises(BadMessage, match="40034"):
        spot.check_rest_payload(load("rest_error.json"))
    with pytest.raises(BadMessage):
        spot.parse_klines("BTCUSDT", {"code": "00000", "data": None}, 0)
