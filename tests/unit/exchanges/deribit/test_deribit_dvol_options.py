"""Deribit DVOL and option-chain summaries: the DVOL notification of Deribit's docs (inline
and the transcribed copy in ../shared/fixtures), its subscription on the first connection,
malformed DVOL frames, and the summary of a small `get_book_summary_by_currency` answer
worked by hand (put/call ratios, USD open interest, zero open interest, an expired option,
bad rows, JSON-RPC errors)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from microservices.common.errors import BadMessage
from microservices.common.records import Liquidation, OpenInterest, OptionsSummary, VolatilityIndex
from microservices.common.schemas import RAW
from microservices.data_collector.exchanges.deribit.exchange import Deribit
from microservices.data_collector.exchanges.deribit.parser import DeribitParser
from microservices.data_collector.exchanges.deribit.simulator.options import dvol, option_chain
from microservices.data_collector.exchanges.deribit.simulator.ws import DeribitDialect
from microservices.exchange_simulator.config import MarketConfig
from microservices.exchange_simulator.market import Liquidation as LiquidationEvent
from microservices.exchange_simulator.market import MarketModel
from tests.fixture_paths import shared_fixture

RECV_MS = 1_700_000_060_000
DOCS_DVOL = "deribit/docs-examples/ws_deribit_volatility_index.notification_data.json"
# Deribit docs example (subscriptions: deribit_volatility_index.{index_name}), in its envelope
DVOL_FRAME = (
    '{"jsonrpc":"2.0","method":"subscription","params":{"channel":'
    '"deribit_volatility_index.btc_usd","data":{"volatility":129.36,'
    '"timestamp":1619777946007,"index_name":"btc_usd"}}}'
)


def exchange(symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")) -> Deribit:
    return Deribit(symbols, "wss://x.invalid", "https://x.invalid")


def parser() -> DeribitParser:
    made = exchange().new_parser()
    assert isinstance(made, DeribitParser)
    return made


def notification(data: Any, channel: str = "deribit_volatility_index.btc_usd") -> str:
    body = {"jsonrpc": "2.0", "method": "subscription",
            "params": {"channel": channel, "data": data}}  # fmt: skip
    return orjson.dumps(body).decode()


# ------------------------------------------------------------------ DVOL
def test_dvol_docs_example() -> None:
    """Deribit docs example: btc_usd at 129.36 % -> one volatility_index record of BTC."""
    p = parser()
    (record,) = p.parse(DVOL_FRAME, RECV_MS)
    assert isinstance(record, VolatilityIndex)
    assert (record.exchange, record.symbol, record.venue_symbol, record.group, record.quote) == (
        "deribit", "BTC-DVOL", "btc_usd", "BTC-DVOL", "USD")  # fmt: skip
    assert (record.ts_ms, record.recv_ms, record.currency, record.volatility) == (
        1619777946007, RECV_MS, "BTC", 129.36)  # fmt: skip
    assert RAW.decode(RAW.encode(record)) == record
    assert p.stats.emitted == {"volatility_index": 1}


def test_dvol_shared_docs_fixture() -> None:
    """The same example as transcribed in ../shared/fixtures (its `data` object)."""
    data = orjson.loads(shared_fixture(DOCS_DVOL).read_bytes())["data"]
    (record,) = parser().parse(notification(data), RECV_MS)
    assert isinstance(record, VolatilityIndex)
    assert (record.currency, record.volatility, record.ts_ms) == ("BTC", 129.36, 1619777946007)


@pytest.mark.parametrize(
    "data",
    [
        {"volatility": 129.36, "timestamp": 1619777946007},  # no index_name
        {"volatility": -1.0, "timestamp": 1619777946007, "index_name": "btc_usd"},
        {"volatility": "high", "timestamp": 1619777946007, "index_name": "btc_usd"},
        {"volatility": 60.0, "timestamp": 12, "index_name": "btc_usd"},  # not epoch ms
        {"volatility": 60.0, "timestamp": 1619777946007, "index_name": "sol_usd"},
        [],
    ],
)
def test_malformed_dvol_is_counted(data: Any) -> None:
    p = parser()
    assert p.parse(notification(data), RECV_MS) == []
    assert p.stats.rejected == {"malformed": 1}


def test_dvol_subscribed_once_for_followed_bases() -> None:
    """The first connection subscribes DVOL of BTC and ETH (id 800); SOL has none."""
    ex = exchange(("BTCUSDT", "ETHUSDT", "SOLUSDT"))
    ex.max_streams_per_connection = 6  # type: ignore[misc]  # two symbols a connection
    plans = ex.ws_connections()
    assert len(plans) == 2
    dvol = [orjson.loads(f) for f in plans[0].subscribe if "volatility" in f]
    assert dvol == [
        {
            "jsonrpc": "2.0",
            "id": 800,
            "method": "public/subscribe",
            "params": {
                "channels": ["deribit_volatility_index.btc_usd", "deribit_volatility_index.eth_usd"]
            },
        }
    ]
    assert not any("volatility" in f for f in plans[1].subscribe)
    assert not any("volatility" in f for p in exchange(("SOLUSDT",)).ws_connections()
                   for f in p.subscribe)  # fmt: skip


# ------------------------------------------------------------------ options summary
def row(name: str, oi: float, volume: float, volume_usd: float, **extra: Any) -> dict[str, Any]:
    return {"instrument_name": name, "open_interest": oi, "volume": volume,
            "volume_usd": volume_usd, "estimated_delivery_price": 40_000.0,
            "underlying_price": 40_100.0, "creation_timestamp": 1_700_000_000_000,
            "base_currency": "BTC", "quote_currency": "BTC", **extra}  # fmt: skip


def answer(rows: list[Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 9, "result": rows, "usIn": 1, "usOut": 2, "usDiff": 1,
            "testnet": False}  # fmt: skip


CHAIN = [
    row("BTC-29DEC23-40000-C", 100.0, 10.0, 12_000.0),
    row("BTC-29DEC23-40000-P", 50.0, 5.0, 6_000.0),
    row("BTC-29DEC23-50000-C", 20.0, 0.0, 0.0, creation_timestamp=1_700_000_001_000),
    row("BTC-29DEC23-30000-P", 30.0, 15.0, 3_000.0),
    row("BTC-10NOV23-40000-C", 7.0, 1.0, 100.0),  # expired at 08:00 UTC on 10 Nov 2023
    row("ETH-29DEC23-2000-C", 9.0, 9.0, 900.0),  # another currency
    {"instrument_name": "BTC-29DEC23-45000-C", "open_interest": "lots"},  # malformed
    row("BTC-29DEC23", 5.0, 5.0, 5.0),  # a future, not an option
]


def test_summary_worked_by_hand() -> None:
    """Live rows: calls OI 100 + 20 = 120, puts 50 + 30 = 80 -> OI 200 BTC, x 40,000 USD =
    8,000,000 USD; put/call OI 80 / 120 = 0.6667; volume calls 10 + 0 = 10, puts 5 + 15 =
    20 -> 30 BTC, ratio 2.0; volume_usd 12,000 + 6,000 + 0 + 3,000 = 21,000; 4 instruments;
    ts = the newest creation_timestamp. The expired, ETH, malformed and future rows are
    skipped by reason."""
    summary, skipped = exchange().parse_options_summary("BTC", answer(CHAIN), RECV_MS)
    assert isinstance(summary, OptionsSummary)
    assert (summary.symbol, summary.venue_symbol, summary.currency, summary.quote) == (
        "BTC-OPTIONS", "BTC", "BTC", "USD")  # fmt: skip
    assert (summary.instruments, summary.open_interest, summary.open_interest_usd) == (
        4, 200.0, 8_000_000.0)  # fmt: skip
    assert (summary.volume_24h, summary.volume_24h_usd, summary.index_price) == (
        30.0, 21_000.0, 40_000.0)  # fmt: skip
    assert summary.put_call_oi_ratio == pytest.approx(80 / 120)
    assert summary.put_call_volume_ratio == 2.0
    assert (summary.ts_ms, summary.recv_ms) == (1_700_000_001_000, RECV_MS)
    assert skipped == {"expired": 1, "other_currency": 1, "malformed": 1, "not_an_option": 1}
    assert RAW.decode(RAW.encode(summary)) == summary


def test_zero_open_interest_and_volume_give_null_ratios() -> None:
    """A chain whose calls have no open interest and no volume: both ratios are undefined
    (null), the record is still made."""
    rows = [row("BTC-29DEC23-40000-C", 0.0, 0.0, 0.0), row("BTC-29DEC23-40000-P", 0.0, 0.0, 0.0)]
    summary, skipped = exchange().parse_options_summary("BTC", answer(rows), RECV_MS)
    assert summary is not None and skipped == {}
    assert (summary.open_interest, summary.put_call_oi_ratio) == (0.0, None)
    assert summary.put_call_volume_ratio is None
    decoded = RAW.decode(RAW.encode(summary))
    assert isinstance(decoded, OptionsSummary) and decoded.put_call_oi_ratio is None


def test_chain_without_live_rows_or_index_gives_no_record() -> None:
    ex = exchange()
    expired = [row("BTC-10NOV23-40000-C", 7.0, 1.0, 100.0)]
    assert ex.parse_options_summary("BTC", answer(expired), RECV_MS) == (
        None, {"expired": 1, "empty_chain": 1})  # fmt: skip
    no_index = [row("BTC-29DEC23-40000-C", 1.0, 1.0, 1.0, estimated_delivery_price=None)]
    assert ex.parse_options_summary("BTC", answer(no_index), RECV_MS) == (
        None, {"no_index_price": 1})  # fmt: skip
    assert ex.parse_options_summary("BTC", answer([]), RECV_MS) == (None, {"empty_chain": 1})


@pytest.mark.parametrize(
    "payload",
    [
        {"jsonrpc": "2.0", "id": 9, "error": {"code": 10028, "message": "too_many_requests"}},
        {"jsonrpc": "2.0", "id": 9, "result": {"not": "a list"}},
        {"jsonrpc": "2.0", "id": 9},
        ["not an object"],
    ],
)
def test_rpc_errors_and_bad_results_raise(payload: Any) -> None:
    with pytest.raises(BadMessage):
        exchange().parse_options_summary("BTC", payload, RECV_MS)


def test_summary_request() -> None:
    request = exchange().options_summary_request("ETH")
    assert request.path == "/api/v2/public/get_book_summary_by_currency"
    assert request.params == {"currency": "ETH", "kind": "option"}


# ------------------------------------------------------------------ simulator
def test_simulator_pushes_dvol_the_collector_reads() -> None:
    """The dialect serves DVOL of simulated BTC and ETH only, once a second: 60 % annual
    volatility with its hourly swing at 0 (t = 0 mod 1 h) is 60.0."""
    start = 1_699_999_200_000  # a whole hour
    market = MarketModel(MarketConfig(symbols=("BTCUSDT", "ETHUSDT"), seed=3), start, ["deribit"])
    d = DeribitDialect(market)
    assert d.channel_ok("deribit_volatility_index.btc_usd")
    assert not d.channel_ok("deribit_volatility_index.sol_usd")
    assert not d.channel_ok("deribit_volatility_index.BTC_USD")
    wanted = {"deribit_volatility_index.btc_usd", "deribit_volatility_index.eth_usd"}
    frames = [orjson.dumps(payload).decode() for _, payload in d.render([], wanted)]
    market.step(start + 500)
    assert d.render([], wanted) == []  # not a second yet
    p = parser()
    records = [r for frame in frames for r in p.parse(frame, RECV_MS)]
    assert [(r.currency, r.volatility, r.ts_ms) for r in records if isinstance(r, VolatilityIndex)
            ] == [("BTC", 60.0, start), ("ETH", 60.0, start)]  # fmt: skip
    assert dvol(0.6, start + 900_000) == 66.0  # a quarter hour: +10 %


def test_simulated_chain_shape() -> None:
    """Three Friday expiries after now (Tue 14 Nov 2023 -> 17, 24 Nov, 1 Dec), five strikes
    a 1,000 apart around 65,000, call and put: 30 rows; the last expiry's top call has no
    volume."""
    rows = option_chain("BTC", 65_000.0, 1_699_999_200_000)
    names = [r["instrument_name"] for r in rows]
    assert len(names) == 30 and names[:2] == ["BTC-17NOV23-52000-C", "BTC-17NOV23-52000-P"]
    assert "BTC-1DEC23-78000-C" in names
    quiet = next(r for r in rows if r["instrument_name"] == "BTC-1DEC23-78000-C")
    assert quiet["volume"] == 0.0
    summary, skipped = exchange().parse_options_summary("BTC", answer(rows), 1_699_999_200_000)
    assert summary is not None and summary.instruments == 30 and skipped == {}


def test_a_refused_dvol_subscription_is_counted() -> None:
    """A JSON-RPC error answering the DVOL subscribe (id 800) counts subscribe_failed."""
    p = parser()
    refused = '{"jsonrpc":"2.0","id":800,"error":{"code":-32602,"message":"Invalid params"}}'
    assert p.parse(refused, RECV_MS) == []
    assert p.stats.rejected == {"subscribe_failed": 1}


def test_simulated_inverse_perpetual_reads_back_in_base_units() -> None:
    """The simulator also serves BTC-PERPETUAL (10 USD contracts) over the same book: the
    collector's default Deribit follows it for BTCUSDT and converts its USD amounts back. A
    0.5 BTC liquidation at 60,000 is 30,000 USD = 3,000 contracts -> 0.5 BTC again."""
    start = 1_700_000_000_000
    market = MarketModel(MarketConfig(symbols=("BTCUSDT",), seed=3), start, ["deribit"])
    d = DeribitDialect(market)
    assert d.channel_ok("ticker.BTC-PERPETUAL.100ms") and not d.channel_ok(
        "ticker.SOL-PERPETUAL.100ms"
    )
    wanted = {
        "ticker.BTC-PERPETUAL.100ms",
        "trades.BTC-PERPETUAL.100ms",
        "book.BTC-PERPETUAL.100ms",
    }
    frames = [item[2].decode() for item in d.initial_frames(sorted(wanted))]
    for step in range(1, 20):
        events = d.market.step(start + step * 250, {("deribit", "BTCUSDT")})
        if step == 10:
            events.append(
                LiquidationEvent("deribit", "BTCUSDT", start + 2_500, True, 60_000.0, 0.5)
            )
        frames += [orjson.dumps(payload).decode() for _, payload in d.render(events, wanted)]
    assert all('"BTC_USDC-PERPETUAL"' not in f for f in frames)
    book = next(
        orjson.loads(f)
        for f in frames
        if f.startswith('{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.')
    )
    amounts = [
        level[2] for level in book["params"]["data"]["bids"] + book["params"]["data"]["asks"]
    ]
    assert amounts and all(a > 0 and a % 10 == 0 for a in amounts)  # whole 10 USD contracts
    p = exchange(("BTCUSDT",)).new_parser()
    records = [r for f in frames if '"channel":"book.' not in f for r in p.parse(f, start + 10_000)]
    assert (
        p.stats.rejected.get("malformed", 0) == 0 and p.stats.rejected.get("not_followed", 0) == 0
    )
    (liquidation,) = [r for r in records if isinstance(r, Liquidation)]
    assert (liquidation.venue_symbol, liquidation.symbol, liquidation.group) == (
        "BTC-PERPETUAL", "BTCUSD.INV", "BTCUSDT")  # fmt: skip
    assert (liquidation.price, liquidation.size) == (60_000.0, 0.5)
    oi = [r for r in records if isinstance(r, OpenInterest)]
    assert oi and all(r.open_interest_usd == r.open_interest * 10 for r in oi)
