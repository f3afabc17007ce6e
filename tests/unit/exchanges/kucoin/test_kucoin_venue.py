"""KuCoin venues: listings (the real v1 symbols answer, a hand-written contracts answer in the
documented shape), naming rules, subscribe plans within the limits, bullet-public, REST
builders and parsers (klines, funding, open interest), the error envelope."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from microservices.common.catalog import Catalog
from microservices.common.errors import BadMessage
from microservices.data_collector.connections import subscriptions
from microservices.data_collector.exchanges.kucoin import bullet
from microservices.data_collector.exchanges.kucoin.exchange import Kucoin
from microservices.data_collector.exchanges.kucoin.futures import KucoinFutures
from microservices.data_collector.exchanges.kucoin.listing import (
    futures_instrument,
    parse_all_tickers,
    parse_contracts,
    parse_symbols,
    spot_instrument,
)
from microservices.data_collector.exchanges.kucoin.server_time import parse_server_time
from microservices.data_collector.exchanges.venue_symbols import Volume24h
from tests.fixture_paths import local_fixture, shared_fixture

RECV = 1_700_000_000_000
CONTRACTS = local_fixture("exchanges/kucoin/rest_contracts_active.json")


def futures(*symbols: str) -> KucoinFutures:
    catalog = Catalog(parse_contracts(CONTRACTS.read_bytes()).instruments,
                      listed=["kucoin_futures"])  # fmt: skip
    return KucoinFutures(list(symbols) or ["BTCUSDT"], "wss://x", "https://x", catalog)


def ok(data: Any) -> dict[str, Any]:
    return {"code": "200000", "data": data}


# ------------------------------------------------------------------ listings


def test_real_spot_symbols_answer() -> None:
    body = shared_fixture("kucoin/rest/LEGACY_api_v1_symbols.TRIMMED.cryptofeed-2021.json")
    listing = parse_symbols(body.read_bytes())
    assert listing.skipped == {}
    assert [i.venue_symbol for i in listing.instruments] == [
        "REQ-ETH",
        "REQ-BTC",
        "NULS-ETH",
        "NULS-BTC",
        "CVC-BTC",
        "NEBL-BTC",
        "SNT-ETH",
        "SNT-BTC",
    ]
    req = listing.instruments[0]
    assert (req.symbol, req.base, req.quote, req.market) == ("REQETH", "REQ", "ETH", "spot")
    assert (req.tick_size, req.lot_size, req.status) == (1e-07, 0.0001, "trading")


def test_v2_symbols_rows_and_bad_answers() -> None:
    rows = [{"symbol": "MATIC-USDT", "name": "MATIC-USDT", "baseCurrency": "MATIC",
             "quoteCurrency": "USDT", "priceIncrement": "0.0001", "baseIncrement": "0.1",
             "enableTrading": False},
            {"symbol": "X-USDT"}]  # fmt: skip
    listing = parse_symbols(orjson.dumps(ok(rows)))
    (pol,) = listing.instruments
    assert (pol.symbol, pol.base, pol.status, pol.tick_size) == ("POLUSDT", "POL", "halted",
                                                                 0.0001)  # alias  # fmt: skip
    assert listing.skipped == {"malformed": 1}
    assert parse_symbols(b'{"code":"429000","msg":"Too Many Requests"}').skipped == {
        "bad_envelope": 1}  # fmt: skip


def test_contracts_answer() -> None:
    listing = parse_contracts(CONTRACTS.read_bytes())
    by = {i.venue_symbol: i for i in listing.instruments}
    assert listing.skipped == {"unknown_type": 1, "malformed": 1}
    xbt = by["XBTUSDTM"]
    assert (xbt.symbol, xbt.base, xbt.quote, xbt.market, xbt.inverse) == (
        "BTCUSDT", "BTC", "USDT", "perpetual", False)  # fmt: skip
    assert (xbt.contract_size, xbt.tick_size, xbt.lot_size, xbt.funding_interval_h) == (
        0.001, 0.1, 1.0, 8.0)  # fmt: skip
    assert by["AUCTIONUSDTM"].funding_interval_h == 4.0
    inverse = by["XBTUSDM"]
    assert (inverse.symbol, inverse.inverse, inverse.contract_size) == ("BTCUSD.INV", True, 1.0)
    dated = by["XBTMH26"]
    assert (dated.market, dated.symbol, dated.expiry_ms) == ("future", "BTCUSD.INV-20260327",
                                                             1_774_598_400_000)  # fmt: skip
    assert by["ETHUSDTM"].status == "halted"  # Paused


def test_naming_rules() -> None:
    inst = spot_instrument("ETH-BTC")
    assert inst is not None and (inst.symbol, inst.tick_size) == ("ETHBTC", None)
    assert spot_instrument("ETHBTC") is None
    perp = futures_instrument("XBTUSDTM")
    assert perp is not None and (perp.symbol, perp.market, perp.contract_size) == (
        "BTCUSDT", "perpetual", 1.0)  # fmt: skip
    inverse = futures_instrument("ETHUSDM")
    assert inverse is not None and (inverse.symbol, inverse.inverse) == ("ETHUSD.INV", True)
    assert futures_instrument("XBTUSDT") is None
    # without a listing, BTCUSDT is followed as XBTUSDTM (KuCoin spells bitcoin XBT)
    venue = KucoinFutures(["BTCUSDT", "SOLUSDT"], "wss://x", "https://x")
    assert [venue.to_venue(s) for s in venue.symbols] == ["XBTUSDTM", "SOLUSDTM"]


def test_24h_tickers() -> None:
    payload = ok({"time": 1, "ticker": [
        {"symbol": "BTC-USDT", "last": "65000", "volValue": "123456.7"},
        {"symbol": "X-USDT", "last": None, "volValue": "-1"}, {"last": "1"}]})  # fmt: skip
    assert parse_all_tickers(payload) == [Volume24h("BTC-USDT", 65000.0, 123456.7),
                                          Volume24h("X-USDT", None, None)]  # fmt: skip
    rows = futures().parse_tickers_24h(orjson.loads(CONTRACTS.read_bytes()))
    assert rows[0] == Volume24h("XBTUSDTM", 100000.1, 512744216.1)
    with pytest.raises(ValueError, match="code"):
        parse_all_tickers({"code": "400100"})


# ------------------------------------------------------------------ WebSocket plans


def test_spot_plan_within_the_limits() -> None:
    symbols = [f"C{i}USDT" for i in range(30)]
    venue = Kucoin(symbols, "wss://ws-api-spot.kucoin.com", "https://x")
    plans = venue.ws_connections()
    assert [len(p.symbols) for p in plans] == [25, 5]  # 4 channels x 25 = 100 subscriptions
    frames = [orjson.loads(f) for f in plans[0].subscribe]
    topics = [f["topic"] for f in frames]
    assert topics[0] == "/market/ticker:" + ",".join(f"C{i}-USDT" for i in range(25))
    assert topics[1].startswith("/market/match:C0-USDT,C1-USDT")
    assert topics[2:27] == [f"/market/candles:C{i}-USDT_1min" for i in range(25)]
    assert topics[27].startswith("/market/snapshot:")
    assert len(frames) == 28 and [f["id"] for f in frames[:2]] == ["1", "2"]
    assert subscriptions(plans[0]) == (100, 28, 25)  # /health: streams, frames, most per frame
    assert all(f["type"] == "subscribe" and f["response"] is True for f in frames)
    venue.books = True
    assert [len(p.symbols) for p in venue.ws_connections()] == [20, 10]


def test_futures_plan_one_topic_per_symbol() -> None:
    venue = futures("BTCUSDT", "SOLUSDT")
    venue.books = True
    (plan,) = venue.ws_connections()
    topics = [orjson.loads(f)["topic"] for f in plan.subscribe]
    assert topics == [
        "/contractMarket/tickerV2:XBTUSDTM", "/contractMarket/tickerV2:SOLUSDTM",
        "/contractMarket/execution:XBTUSDTM", "/contractMarket/execution:SOLUSDTM",
        "/contract/instrument:XBTUSDTM", "/contract/instrument:SOLUSDTM",
        "/contractMarket/level2Depth50:XBTUSDTM", "/contractMarket/level2Depth50:SOLUSDTM",
    ]  # fmt: skip
    many = KucoinFutures([f"C{i}USDT" for i in range(30)], "wss://x", "https://x")
    assert [len(p.subscribe) for p in many.ws_connections()] == [78, 12]  # < 100 per 10 s


def test_ping_and_welcome() -> None:
    venue = Kucoin(["BTCUSDT"], "wss://x", "https://x")
    assert orjson.loads(venue.ping_message() or "") == {"id": "ping", "type": "ping"}
    assert venue.ping_interval_s == 18.0 and venue.ws_welcome in '{"id":"a","type":"welcome"}'


def test_bullet_answer_and_url() -> None:
    answer = ok({"token": "2neAiuYvAU61ZDXANAGAsiL4-iAExhsBXZxftpOeh_55i3Ysy2q2LEsEWU64mdzUOPus",
                 "instanceServers": [{"endpoint": "wss://ws-api-spot.kucoin.com/",
                                      "encrypt": True, "protocol": "websocket",
                                      "pingInterval": 18000, "pingTimeout": 10000}]})  # fmt: skip
    parsed = bullet.parse_bullet(answer)
    assert (parsed.endpoint, parsed.ping_interval_ms, parsed.ping_timeout_ms) == (
        "wss://ws-api-spot.kucoin.com/", 18000, 10000)  # fmt: skip
    assert bullet.ws_url(parsed, "c1") == (
        "wss://ws-api-spot.kucoin.com/?token=2neAiuYvAU61ZDXANAGAsiL4-iAExhsBXZxftpOeh_55i3Ysy2q2"
        "LEsEWU64mdzUOPus&connectId=c1")  # fmt: skip
    bad_answers: list[Any] = [{"code": "429000", "msg": "Too Many Requests"},
                              ok({"token": "t"}), ok({"token": "t", "instanceServers": [{}]}),
                              []]  # fmt: skip
    for bad in bad_answers:
        with pytest.raises(bullet.BulletFailed):
            bullet.parse_bullet(bad)
    assert isinstance(bullet.BulletFailed("x"), OSError)  # the bridge retries it


# ------------------------------------------------------------------ REST


def test_spot_klines() -> None:
    venue = Kucoin(["BTCUSDT"], "wss://x", "https://x")
    request = venue.klines_request("BTCUSDT", 1_700_000_000_000, 1_700_000_600_000)
    assert (request.path, request.weight) == ("/api/v1/market/candles", 3)
    assert request.params == {"type": "1min", "symbol": "BTC-USDT", "startAt": "1700000000",
                              "endAt": "1700000600"}  # fmt: skip
    rows = [["1700000060", "10", "11", "12", "9", "5", "55"],
            ["1700000000", "9", "10", "10.5", "8.5", "1", "9.5"], ["bad"]]  # fmt: skip
    old, new = venue.parse_klines("BTCUSDT", ok(rows), 1_700_000_100_000)
    assert (old.open_time_ms, old.open, old.close, old.high, old.low, old.volume) == (
        1_700_000_000_000, 9.0, 10.0, 10.5, 8.5, 1.0)  # open, close, high, low order  # fmt: skip
    assert (old.closed, new.closed, new.close) == (True, False, 11.0)
    with pytest.raises(BadMessage):
        venue.parse_klines("BTCUSDT", {"code": "200000", "data": {}}, RECV)


def test_futures_klines_in_base_units() -> None:
    venue = futures("BTCUSDT")
    request = venue.klines_request("BTCUSDT", 1, 2)
    assert (request.path, request.params) == (
        "/api/v1/kline/query",
        {"symbol": "XBTUSDTM", "granularity": "1", "from": "1", "to": "2"},
    )
    (bar,) = venue.parse_klines("BTCUSDT", ok([[1_700_000_000_000, 10, 12, 9, 11, 2500]]), RECV)
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (10.0, 12.0, 9.0, 11.0, 2.5)


def test_futures_funding_and_open_interest() -> None:
    venue = futures("BTCUSDT")
    request = venue.current_funding_request("BTCUSDT")
    assert request is not None and request.path == "/api/v1/funding-rate/XBTUSDTM/current"
    answer = ok({"symbol": ".XBTUSDTMFPI8H", "granularity": 28800000,
                 "timePoint": 1_700_000_000_000, "value": 0.000132, "predictedValue": 0.0001,
                 "fundingTime": 1_700_028_800_000})  # fmt: skip
    (funding,) = venue.parse_current_funding("BTCUSDT", answer, RECV)
    assert (funding.funding_rate, funding.funding_interval_h, funding.ts_ms) == (
        0.000132, 8.0, 1_700_000_000_000)  # fmt: skip
    assert funding.next_funding_time_ms == 1_700_028_800_000
    history = venue.funding_history_request("BTCUSDT", 5, 6)
    assert history is not None and history.params == {"symbol": "XBTUSDTM", "from": "5",
                                                       "to": "6"}  # fmt: skip
    rows = [{"symbol": "XBTUSDTM", "fundingRate": 0.0002, "timepoint": 1_700_028_800_000},
            {"symbol": "XBTUSDTM", "fundingRate": -0.0001, "timepoint": 1_700_000_000_000},
            {"symbol": "XBTUSDTM", "fundingRate": 2}]  # fmt: skip
    older, newer = venue.parse_funding_history("BTCUSDT", ok(rows), RECV)
    assert (older.funding_rate, newer.funding_rate, older.funding_interval_h) == (
        -0.0001,
        0.0002,
        8.0,
    )
    oi_request = venue.current_open_interest_request("BTCUSDT")
    assert oi_request is not None and oi_request.path == "/api/v1/contracts/XBTUSDTM"
    (oi,) = venue.parse_current_open_interest(
        "BTCUSDT", ok({"openInterest": "8724443", "markPrice": 100000}), RECV
    )
    assert oi.open_interest == pytest.approx(8724.443)  # contracts x 0.001 BTC
    assert oi.open_interest_usd == pytest.approx(872_444_300.0)
    assert venue.open_interest_history_request("BTCUSDT", 1, 2) is None  # KuCoin has none


def test_spot_has_no_funding_and_errors_are_refused() -> None:
    venue = Kucoin(["BTCUSDT"], "wss://x", "https://x")
    assert venue.current_funding_request("BTCUSDT") is None
    assert venue.current_open_interest_request("BTCUSDT") is None
    venue.check_rest_payload(ok([]))
    with pytest.raises(BadMessage, match="429000"):
        venue.check_rest_payload({"code": "429000", "msg": "Too Many Requests"})


def test_server_time() -> None:
    payload = orjson.loads(local_fixture("exchanges/kucoin/rest_time.json").read_bytes())
    assert parse_server_time(payload) == 1_546_837_113_087.0
    with pytest.raises(BadMessage):
        parse_server_time({"code": "500000", "msg": "x"})
