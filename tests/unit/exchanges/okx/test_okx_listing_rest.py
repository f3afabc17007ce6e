"""OKX v5 instruments (the real 2022 SPOT and SWAP listings, trimmed, and the repo's
docs-shaped swap listing with linear contract values), the naming rule, the 24 h tickers,
the WebSocket connection plans, and the REST builders and parsers (docs-shaped answers)."""

from __future__ import annotations

import orjson
import pytest

from microservices.common.errors import BadMessage
from microservices.data_collector.exchanges.okx.exchange import Okx, OkxSpot
from microservices.data_collector.exchanges.okx.listing import (
    parse_instruments,
    parse_tickers_24h,
    symbol_instrument,
)
from microservices.data_collector.exchanges.okx.server_time import parse_server_time
from tests.fixture_paths import local_fixture, shared_fixture
from tests.unit.exchanges.okx.helpers import RECV_MS, listed


def body(venue: str, name: str) -> object:
    return orjson.loads(local_fixture(f"exchanges/{venue}/{name}").read_bytes())


def test_real_spot_listing() -> None:
    path = shared_fixture("okx/rest/api_v5_public_instruments.SPOT.TRIMMED.cryptofeed-2022.json")
    parsed = parse_instruments(path.read_bytes(), "okx_spot", "SPOT")
    assert [i.venue_symbol for i in parsed.instruments] == [
        "BTC-USDT", "ETH-USDT", "OKB-USDT", "OKT-USDT", "LTC-USDT", "DOT-USDT"
    ]  # fmt: skip
    btc = parsed.instruments[0]
    assert (btc.symbol, btc.market, btc.tick_size, btc.lot_size, btc.contract_size) == (
        "BTCUSDT",
        "spot",
        0.1,
        1e-08,
        1.0,
    )
    assert parsed.skipped == {} and parsed.flagged == {}


def test_real_swap_listing_inverse_contracts() -> None:
    path = shared_fixture("okx/rest/api_v5_public_instruments.SWAP.TRIMMED.cryptofeed-2022.json")
    parsed = parse_instruments(path.read_bytes(), "okx", "SWAP")
    btc, eth = parsed.instruments[:2]
    assert (btc.venue_symbol, btc.symbol, btc.inverse, btc.contract_size, btc.settle) == (
        "BTC-USD-SWAP",
        "BTCUSD.INV",
        True,
        100.0,
        "BTC",
    )
    assert (eth.contract_size, eth.tick_size, eth.lot_size, eth.status) == (10.0, 0.01, 1.0,
                                                                            "trading")  # fmt: skip
    assert len(parsed.instruments) == 6
    # the FUTURES listing is not a swap listing: every row is skipped
    futures = shared_fixture(
        "okx/rest/api_v5_public_instruments.FUTURES.TRIMMED.cryptofeed-2022.json"
    )
    assert parse_instruments(futures.read_bytes(), "okx", "SWAP").skipped == {"other_inst_type": 4}


def test_linear_swap_listing_and_bad_rows() -> None:
    parsed = parse_instruments(body("okx", "rest_instruments_swap.json"), "okx", "SWAP")
    by = {i.venue_symbol: i for i in parsed.instruments}
    assert (by["BTC-USDT-SWAP"].contract_size, by["BTC-USDT-SWAP"].symbol) == (0.01, "BTCUSDT")
    assert by["ETH-USDT-SWAP"].contract_size == 0.1
    assert by["PEPE-USDT-SWAP"].status == "halted"  # suspend
    assert parsed.skipped == {"unknown_contract_type": 1, "malformed": 1}
    error = parse_instruments(body("okx", "rest_error.json"), "okx", "SWAP")
    assert error.skipped == {"api_error": 1} and error.instruments == []
    spot = parse_instruments(body("okx_spot", "rest_instruments_spot.json"), "okx_spot", "SPOT")
    assert [i.status for i in spot.instruments] == ["trading", "trading", "pending"]


def test_naming_rule() -> None:
    inst = symbol_instrument("BTC-USD-SWAP", "okx")
    assert inst is not None and (inst.symbol, inst.inverse, inst.contract_size) == (
        "BTCUSD.INV",
        True,
        100.0,
    )
    eth = symbol_instrument("ETH-USD-SWAP", "okx")
    assert eth is not None and eth.contract_size == 10.0
    linear = symbol_instrument("SOL-USDC-SWAP", "okx")
    assert linear is not None and (linear.symbol, linear.market) == ("SOLUSDC", "perpetual")
    spot = symbol_instrument("ETH-BTC", "okx_spot")
    assert spot is not None and (spot.symbol, spot.quote) == ("ETHBTC", "BTC")
    for name, venue in [("BTC-USD-220527", "okx"), ("BTC-USDT", "okx"),
                        ("BTC-USDT-SWAP", "okx_spot"), ("BTC-EUR-SWAP", "okx")]:  # fmt: skip
        assert symbol_instrument(name, venue) is None, name


def test_tickers_24h_price_swap_base_volume() -> None:
    rows = parse_tickers_24h(body("okx", "rest_tickers.json"))
    assert rows[0].venue_symbol == "BTC-USDT-SWAP"
    assert rows[0].quote_volume == pytest.approx(95432.12 * 42220)
    assert rows[1].quote_volume is None  # volCcy24h ""
    assert Okx.tickers_24h_request(listed()).params == {"instType": "SWAP"}  # type: ignore[union-attr]


def test_connection_plans_use_both_endpoints() -> None:
    okx = listed()
    okx.books = True
    public, business = okx.ws_connections()
    assert public.url == "wss://ws.okx.com:8443/ws/v5/public"
    assert business.url == "wss://ws.okx.com:8443/ws/v5/business"
    args = orjson.loads(public.subscribe[0])["args"]
    assert args[0] == {"channel": "tickers", "instId": "BTC-USDT-SWAP"}
    assert {"channel": "books", "instId": "ETH-USDT-SWAP"} in args
    assert args[-1] == {"channel": "liquidation-orders", "instType": "SWAP"}  # once
    assert len(args) == 2 * 6 + 1
    assert orjson.loads(business.subscribe[0])["args"][:2] == [
        {"channel": "candle1m", "instId": "BTC-USDT-SWAP"},
        {"channel": "mark-price-candle1m", "instId": "BTC-USDT-SWAP"},
    ]
    many = Okx([f"C{i}USDT" for i in range(100)], "wss://x", "https://x")
    plans = many.ws_connections()
    assert [len(p.symbols) for p in plans] == [48, 48, 4, 100]  # at most 240 args each
    assert all(len(orjson.loads(f)["args"]) <= 100 for p in plans for f in p.subscribe)
    assert sum(f.count("liquidation-orders") for p in plans for f in p.subscribe) == 1
    assert okx.ping_message() == "ping"
    assert okx.book_resubscribe("BTC-USDT-SWAP") == (
        '{"op":"unsubscribe","args":[{"channel":"books","instId":"BTC-USDT-SWAP"}]}',
        '{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT-SWAP"}]}',
    )


def test_rest_requests() -> None:
    okx, spot = listed(), listed("okx_spot")
    start, end = 1_700_000_000_000, 1_700_000_000_000 + 99 * 60_000
    req = okx.klines_request("BTCUSDT", start, end)
    assert (req.path, req.weight) == ("/api/v5/market/history-candles", 1)
    assert req.params == {"instId": "BTC-USDT-SWAP", "bar": "1m", "after": str(end + 1),
                          "before": str(start - 1), "limit": "100"}  # fmt: skip
    funding = okx.funding_history_request("BTCUSDT", start, end)
    assert funding is not None and funding.weight == 2
    oi = okx.open_interest_history_request("BTCUSDT", start, end)
    assert oi is not None and oi.params["period"] == "5m" and oi.weight == 4
    current = okx.current_open_interest_request("BTCUSDT")
    assert current is not None and current.params == {"instId": "BTC-USDT-SWAP", "instType": "SWAP"}
    assert spot.funding_history_request("BTCUSDT", start, end) is None
    assert spot.current_funding_request("BTCUSDT") is None
    assert spot.open_interest_history_request("BTCUSDT", start, end) is None


def test_rest_parsers() -> None:
    okx = listed()
    bars = okx.parse_klines("BTCUSDT", body("okx", "rest_candles.json"), RECV_MS)
    assert [(b.open_time_ms, b.close, b.volume, b.closed) for b in bars] == [
        (1699999980000, 42220.0, 15.2, True), (1700000040000, 42221.3, 0.37, False)
    ]  # the inconsistent row (high below open) is skipped  # fmt: skip
    spot_bar, = listed("okx_spot").parse_klines("BTCUSDT", body("okx_spot", "rest_candles.json"),
                                                RECV_MS)  # fmt: skip
    assert spot_bar.volume == 15.2
    rows = okx.parse_funding_history("BTCUSDT", body("okx", "rest_funding_history.json"), RECV_MS)
    assert [(f.ts_ms, f.funding_rate) for f in rows] == [(1699977600000, 0.00008),
                                                         (1700006400000, 0.0001515)]  # fmt: skip
    (current,) = okx.parse_current_funding(
        "BTCUSDT", body("okx", "rest_funding_rate.json"), RECV_MS
    )
    assert (current.funding_interval_h, current.next_funding_time_ms, current.ts_ms) == (
        4.0,
        1700006400000,
        1700000000500,
    )
    assert okx.funding_interval_h("BTCUSDT") == 4.0  # remembered for the history
    oi, = okx.parse_current_open_interest("BTCUSDT", body("okx", "rest_open_interest.json"),
                                          RECV_MS)  # fmt: skip
    assert (oi.open_interest, oi.open_interest_usd, oi.ts_ms) == (2216113.01, 935652839.45,
                                                                  1700000000600)  # fmt: skip
    history = okx.parse_open_interest_history(
        "BTCUSDT", body("okx", "rest_open_interest_history.json"), RECV_MS
    )
    assert [(r.ts_ms, r.open_interest) for r in history] == [
        (1699999800000, 2215000.0),
        (1700000100000, 2216113.01),
    ]


def test_rest_errors_and_server_time() -> None:
    okx = listed()
    error = body("okx", "rest_error.json")
    with pytest.raises(BadMessage, match="50011"):
        okx.check_rest_payload(error)
    with pytest.raises(BadMessage):
        okx.parse_klines("BTCUSDT", error, RECV_MS)
    okx.check_rest_payload(body("okx", "rest_time.json"))
    assert parse_server_time(body("okx", "rest_time.json")) == 1700000000123.0
    for bad in [error, {"code": "0", "data": []}, {"code": "0", "data": [{"ts": 17}]}]:
        with pytest.raises(BadMessage):
            parse_server_time(bad)
    assert OkxSpot.inst_type == "SPOT"
