"""Deribit instruments, subscribe plans and REST: get_instruments on the recorded answer in
../shared/fixtures (2021, options) and on rows written from docs.deribit.com's examples
(tests/fixtures/exchanges/deribit: inverse BTC-PERPETUAL and BTC-29SEP23, linear
BTC_USDC-PERPETUAL), the naming rule, pages per currency, connection plans, chart data,
funding history, tickers, server time and the JSON-RPC error envelope."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from microservices.common.catalog import Catalog
from microservices.common.errors import BadMessage
from microservices.common.records import Funding, OpenInterest
from microservices.data_collector.exchanges.deribit.exchange import Deribit
from microservices.data_collector.exchanges.deribit.listing import (
    parse_instruments,
    symbol_instrument,
)
from microservices.data_collector.exchanges.deribit.server_time import parse_server_time
from tests.fixture_paths import local_fixture, shared_fixture
from tests.unit.exchanges.deribit.helpers import LinearFirst

RECV_MS = 1_700_000_130_000
LISTING = "deribit/rest/api_v2_public_get_instruments.BTC.TRIMMED.cryptofeed.json"


def body(name: str) -> Any:
    return orjson.loads(local_fixture(f"exchanges/deribit/{name}").read_bytes())


def listed_exchange(
    symbols: tuple[str, ...] = ("BTCUSDT",), cls: type[Deribit] = LinearFirst
) -> Deribit:
    """An exchange whose catalog is the repo's two listing pages; by default following the
    linear BTC_USDC-PERPETUAL (the repo's REST answers are of it)."""
    instruments = [*parse_instruments(body("rest_instruments_BTC.json")).instruments,
                   *parse_instruments(body("rest_instruments_USDC.json")).instruments]  # fmt: skip
    catalog = Catalog(instruments, quote_order={"deribit": cls.quote_order},
                      contract_order={"deribit": cls.contract_order})  # fmt: skip
    return cls(symbols, "wss://x.invalid", "https://x.invalid", catalog)


# ------------------------------------------------------------------ listing
def test_recorded_listing_of_options() -> None:
    """The 2021 answer (currency=BTC, all kinds): coin-settled options, inverse, with the
    USD counter currency (older rows carry no instrument_type)."""
    parsed = parse_instruments(shared_fixture(LISTING).read_bytes())
    assert parsed.skipped == {}
    first = parsed.instruments[0]
    assert (first.venue_symbol, first.symbol, first.market, first.inverse) == (
        "BTC-24SEP21-40000-P", "BTCUSD.INV-20210924-40000-P", "option", True)  # fmt: skip
    assert (first.strike, first.put_call, first.expiry_ms) == (40000.0, "P", 1632470400000)
    assert (first.tick_size, first.lot_size, first.contract_size) == (0.0005, 0.1, 1.0)
    assert [i.symbol for i in parsed.instruments[1:]] == [
        "BTCUSD.INV-20220624-30000-C", "BTCUSD.INV-20210806-40000-C",
        "BTCUSD.INV-20220325-22000-C", "BTCUSD.INV-20210813-36000-C",
        "BTCUSD.INV-20211231-48000-P"]  # fmt: skip


def test_docs_rows_inverse_linear_and_skipped() -> None:
    """Rows from docs.deribit.com's get_instruments example (BTC) and the linear USDC row."""
    btc = parse_instruments(body("rest_instruments_BTC.json"))
    assert btc.skipped == {"kind_future_combo": 1, "malformed": 1}
    future, perp = btc.instruments
    assert (perp.venue_symbol, perp.symbol, perp.market, perp.inverse, perp.quote) == (
        "BTC-PERPETUAL", "BTCUSD.INV", "perpetual", True, "USD")  # fmt: skip
    assert (perp.contract_size, perp.tick_size, perp.lot_size, perp.expiry_ms) == (
        10.0, 0.5, 10.0, None)  # fmt: skip
    assert (perp.settle, perp.status) == ("BTC", "trading")
    assert (future.symbol, future.expiry_ms) == ("BTCUSD.INV-20230929", 1695974400000)
    usdc = parse_instruments(body("rest_instruments_USDC.json"))
    linear, matic = usdc.instruments
    assert (linear.symbol, linear.inverse, linear.contract_size, linear.tick_size) == (
        "BTCUSDC", False, 0.001, 1.0)  # fmt: skip
    assert (matic.symbol, matic.base, matic.status) == ("POLUSDC", "POL", "halted")
    error = parse_instruments(body("rest_error.json"))
    assert (error.instruments, error.skipped) == ([], {"api_error": 1})


def test_listing_pages_one_currency_each() -> None:
    exchange = Deribit((), "wss://x.invalid", "https://x.invalid")
    pages = []
    cursor: str | None = None
    for _ in range(4):
        request = exchange.listing_request(cursor)
        assert request is not None
        pages.append((request.path, request.params["currency"], request.weight))
        _, cursor = exchange.parse_listing(body("rest_instruments_USDC.json"))
        if cursor is None:
            break
    assert pages == [("/api/v2/public/get_instruments", c, 20) for c in ("BTC", "ETH", "USDC")]
    assert exchange.listing_request(None).params == {  # type: ignore[union-attr]
        "currency": "BTC", "kind": "future", "expired": "false"}  # fmt: skip


@pytest.mark.parametrize(
    ("venue_symbol", "symbol", "inverse", "contract_size"),
    [
        ("BTC-PERPETUAL", "BTCUSD.INV", True, 10.0),
        ("ETH-PERPETUAL", "ETHUSD.INV", True, 1.0),
        ("BTC_USDC-PERPETUAL", "BTCUSDC", False, 1.0),
        ("SOL_USDC-PERPETUAL", "SOLUSDC", False, 1.0),
        ("BTC-27DEC24", "BTCUSD.INV-20241227", True, 10.0),
        ("BTC-24SEP21-8000-P", "BTCUSD.INV-20210924-8000-P", True, 1.0),
        ("MATIC_USDC-9MAR24-1d02-C", "POLUSDC-20240309-1.02-C", False, 1.0),
    ],
)
def test_naming_rule(venue_symbol: str, symbol: str, inverse: bool, contract_size: float) -> None:
    inst = symbol_instrument(venue_symbol)
    assert inst is not None
    assert (inst.venue_symbol, inst.symbol, inst.inverse, inst.contract_size) == (
        venue_symbol, symbol, inverse, contract_size)  # fmt: skip


@pytest.mark.parametrize(
    "venue_symbol",
    ["BTC-FS-30SEP22_PERP", "BTC-STRD-30SEP22-20000", "SOL-PERPETUAL", "BTC_USDC", "BTC-31FEB25"],
)
def test_naming_rule_refuses(venue_symbol: str) -> None:
    assert symbol_instrument(venue_symbol) is None


def test_primary_instrument_is_the_inverse_perpetual() -> None:
    """Deribit's contract order puts inverse first: BTCUSDT follows BTC-PERPETUAL (canonical
    BTCUSD.INV, 10 USD contracts, the deep book); the linear BTC_USDC-PERPETUAL is in the same
    group, and is the primary under the default order (linear first)."""
    exchange = listed_exchange(cls=Deribit)
    assert exchange.venue_symbol("BTCUSDT") == "BTC-PERPETUAL"
    assert listed_exchange(cls=LinearFirst).venue_symbol("BTCUSDT") == "BTC_USDC-PERPETUAL"
    rule = Deribit(("BTCUSDT", "ETHUSDT"), "wss://x.invalid", "https://x.invalid")
    assert [rule.venue_symbol(s) for s in ("BTCUSDT", "ETHUSDT")] == [
        "BTC-PERPETUAL", "ETH-PERPETUAL"]  # the naming rule too  # fmt: skip
    inverse = exchange.catalog.by_venue_symbol("deribit", "BTC-PERPETUAL")
    assert inverse is not None
    assert exchange.instrument_head(inverse)["group"] == "BTCUSDT"
    members = exchange.catalog.members("BTCUSDT", "deribit")
    assert [i.venue_symbol for i in members] == ["BTC-PERPETUAL", "BTC_USDC-PERPETUAL"]


# ------------------------------------------------------------------ WebSocket plans
def test_connection_plan_heartbeat_then_subscribe() -> None:
    exchange = LinearFirst(("BTCUSDT", "ETHUSDT"), "wss://www.deribit.com", "https://x")
    exchange.books = True
    (plan,) = exchange.ws_connections()
    assert plan.url == "wss://www.deribit.com/ws/api/v2"
    heartbeat, subscribe, dvol = map(orjson.loads, plan.subscribe)
    assert dvol["params"]["channels"] == [
        "deribit_volatility_index.btc_usd", "deribit_volatility_index.eth_usd"]  # fmt: skip
    assert heartbeat == {"jsonrpc": "2.0", "id": 1, "method": "public/set_heartbeat",
                         "params": {"interval": 30}}  # fmt: skip
    assert subscribe["method"] == "public/subscribe"
    assert subscribe["params"]["channels"] == [
        "ticker.BTC_USDC-PERPETUAL.100ms", "trades.BTC_USDC-PERPETUAL.100ms",
        "chart.trades.BTC_USDC-PERPETUAL.1", "book.BTC_USDC-PERPETUAL.100ms",
        "ticker.ETH_USDC-PERPETUAL.100ms", "trades.ETH_USDC-PERPETUAL.100ms",
        "chart.trades.ETH_USDC-PERPETUAL.1", "book.ETH_USDC-PERPETUAL.100ms"]  # fmt: skip
    unsubscribe, again = map(orjson.loads, exchange.book_resubscribe("BTC_USDC-PERPETUAL"))
    assert (unsubscribe["method"], again["method"]) == ("public/unsubscribe", "public/subscribe")
    assert again["params"] == {"channels": ["book.BTC_USDC-PERPETUAL.100ms"]}


def test_connections_split_at_200_channels_in_frames_of_100() -> None:
    symbols = tuple(f"A{i}USDT" for i in range(120))
    exchange = Deribit(symbols, "wss://x", "https://x")
    plans = exchange.ws_connections()
    assert [len(p.symbols) for p in plans] == [66, 54]  # 3 channels each: 198 and 162
    frames = [orjson.loads(f) for f in plans[0].subscribe[1:]]  # no DVOL: A0..A119 have none
    assert [len(f["params"]["channels"]) for f in frames] == [100, 98]


# ------------------------------------------------------------------ REST
def test_chart_data_as_1m_klines() -> None:
    exchange = listed_exchange()
    request = exchange.klines_request("BTCUSDT", 1_699_999_980_000, 1_700_000_100_000)
    assert request.path == "/api/v2/public/get_tradingview_chart_data"
    assert request.params == {"instrument_name": "BTC_USDC-PERPETUAL", "resolution": "1",
                              "start_timestamp": "1699999980000",
                              "end_timestamp": "1700000100000"}  # fmt: skip
    bars = exchange.parse_klines("BTCUSDT", body("rest_chart.json"), RECV_MS)
    assert [(b.open_time_ms, b.open, b.high, b.low, b.close, b.volume, b.closed) for b in bars] == [
        (1699999980000, 36990.0, 37001.0, 36980.5, 37000.0, 0.25, True),
        (1700000040000, 37000.0, 37010.5, 36990.0, 37005.0, 1.5, True),
        (1700000100000, 37005.0, 37005.0, 37005.0, 37005.0, 0.0, False),
    ]  # fmt: skip
    assert exchange.parse_klines("BTCUSDT", body("rest_chart_no_data.json"), RECV_MS) == []


def test_funding_history_8h_rates_oldest_first() -> None:
    exchange = listed_exchange()
    request = exchange.funding_history_request("BTCUSDT", 1, 2)
    assert request is not None and request.path == "/api/v2/public/get_funding_rate_history"
    rows = exchange.parse_funding_history("BTCUSDT", body("rest_funding_history.json"), RECV_MS)
    assert [(r.ts_ms, r.funding_rate, r.funding_interval_h, r.index_price) for r in rows] == [
        (1699999200000, -0.00004, 8.0, 36990.1), (1700002800000, 0.00012, 8.0, 36995.2)]  # fmt: skip


def test_current_funding_and_open_interest_from_the_ticker() -> None:
    """With the listing, BTC_USDC-PERPETUAL contracts are 0.001 BTC: 1234.5 BTC of open
    interest is 1,234,500 contracts, worth 1234.5 x mark 37000.8 USDC."""
    exchange = listed_exchange()
    request = exchange.current_open_interest_request("BTCUSDT")
    assert request is not None and request.path == "/api/v2/public/ticker"
    (funding,) = exchange.parse_current_funding("BTCUSDT", body("rest_ticker.json"), RECV_MS)
    assert isinstance(funding, Funding)
    assert (funding.ts_ms, funding.funding_rate, funding.mark_price) == (
        1700000000000, 0.0001, 37000.8)  # fmt: skip
    (oi,) = exchange.parse_current_open_interest("BTCUSDT", body("rest_ticker.json"), RECV_MS)
    assert isinstance(oi, OpenInterest)
    assert oi.open_interest == pytest.approx(1_234_500.0)
    assert oi.open_interest_usd == pytest.approx(45_677_487.6)
    assert exchange.parse_current_funding("BTCUSDT", body("rest_error.json"), RECV_MS) == []


def test_error_envelope_and_server_time() -> None:
    exchange = listed_exchange()
    with pytest.raises(BadMessage, match="10028"):
        exchange.check_rest_payload(body("rest_error.json"))
    exchange.check_rest_payload(body("rest_ticker.json"))
    with pytest.raises(BadMessage):
        exchange.parse_klines("BTCUSDT", body("rest_error.json"), RECV_MS)
    assert parse_server_time(body("rest_time.json")) == 1_550_147_385_946.0  # docs example
    for bad in (body("rest_error.json"), {"result": "1550147385946"}, {"result": None}):
        with pytest.raises(BadMessage):
            parse_server_time(bad)
