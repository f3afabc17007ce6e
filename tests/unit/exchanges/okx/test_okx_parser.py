"""OKX v5 WebSocket parser: exact values from the real frames (cryptofeed's 2022 capture:
spot BTC-USDT and the inverse swap UNI-USD-SWAP; tardis-node's v5 swap frames: funding-rate,
open-interest, trades, tickers) and from the repo's docs-shaped frames (contract conversion,
funding interval, liquidations), plus every reject reason and what proves the feed alive."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from microservices.common.records import Funding, Kline, Liquidation, OpenInterest, Ticker, Trade
from microservices.data_collector.exchanges import EXCHANGES
from tests.fixture_paths import capture_frames, local_fixture, shared_fixture, tardis_frames
from tests.unit.exchanges.okx.helpers import RECV_MS, listed

CAPTURE = "okx/ws/v5_public_tickers_trades_books.cryptofeed-2022.jsonl"
TARDIS = "okx/ws/tardis-node_mappers-test_samples.jsonl"


def frames(venue: str, name: str) -> list[str]:
    return list(capture_frames(local_fixture(f"exchanges/{venue}/{name}")))


def parse_all(parser: Any, texts: list[str]) -> list[Any]:
    return [r for text in texts for r in parser.parse(text, RECV_MS)]


def test_real_spot_frames() -> None:
    parser = EXCHANGES["okx_spot"](["BTCUSDT"], "wss://x", "https://x").new_parser()
    records = parse_all(parser, list(capture_frames(shared_fixture(CAPTURE))))
    ticker = next(r for r in records if isinstance(r, Ticker))
    assert (ticker.symbol, ticker.venue_symbol, ticker.ts_ms) == (
        "BTCUSDT",
        "BTC-USDT",
        1652459224956,
    )
    assert (ticker.bid, ticker.bid_size, ticker.ask, ticker.ask_size, ticker.last) == (
        30228.6,
        0.23393,
        30228.7,
        1.55896972,
        30236.0,
    )
    trade = next(r for r in records if isinstance(r, Trade))
    assert (trade.trade_id, trade.price, trade.size, trade.side, trade.ts_ms) == (
        "338476307",
        30236.0,
        0.0002,
        "buy",
        1652459224818,
    )
    assert parser.stats.emitted == {"ticker": 25, "trade": 69}
    # the capture's other instruments: a dated future and an inverse swap are not spot
    assert parser.stats.rejected["unknown_symbol"] == 8


def test_real_inverse_swap_frames_convert_usd_contracts_to_base_units() -> None:
    """UNI-USD-SWAP: 10 USD a contract (OKX's inverse swaps other than BTC), so 100 contracts
    at 5.123 are 100 x 10 / 5.123 UNI."""
    exchange = EXCHANGES["okx"]([], "wss://x", "https://x")
    exchange.follow_any()  # as `normalize` does: every instrument the naming rule names
    parser = exchange.new_parser()
    records = parse_all(parser, list(capture_frames(shared_fixture(CAPTURE))))
    trade = next(r for r in records if isinstance(r, Trade))
    assert (trade.symbol, trade.group, trade.quote) == ("UNIUSD.INV", "UNIUSDT", "USD")
    assert (trade.trade_id, trade.price, trade.side, trade.ts_ms) == ("12883020", 5.123, "sell",
                                                                       1652459215150)  # fmt: skip
    assert trade.size == pytest.approx(100 * 10 / 5.123)
    ticker = next(r for r in records if isinstance(r, Ticker))
    assert ticker.bid_size == pytest.approx(96 * 10 / 5.134)
    assert ticker.ask_size == pytest.approx(25 * 10 / 5.142)


def test_real_tardis_swap_frames_funding_and_open_interest() -> None:
    parser = EXCHANGES["okx"](
        ["WNCGUSDT", "BTCUSDT", "SOSUSDT"], "wss://x", "https://x"
    ).new_parser()
    texts = [t for t, _ in tardis_frames(shared_fixture(TARDIS), "okex-swap")]
    records = parse_all(parser, texts)
    funding = next(r for r in records if isinstance(r, Funding))
    # 2021 frame without ts: ts_ms is the receive time; settlement at fundingTime
    assert (funding.symbol, funding.funding_rate, funding.next_funding_time_ms) == (
        "WNCGUSDT",
        0.00048105,
        1640131200000,
    )
    assert (funding.ts_ms, funding.funding_interval_h) == (RECV_MS, 8.0)
    oi = next(r for r in records if isinstance(r, OpenInterest))
    assert (oi.open_interest, oi.open_interest_usd, oi.ts_ms) == (644195.0, None, 1640131258756)
    trade = next(r for r in records if isinstance(r, Trade))
    # naming rule only: a linear swap's contract value is unknown, 1 is assumed
    assert (trade.venue_symbol, trade.price, trade.size, trade.side) == ("BTC-USDT-SWAP", 48938.5,
                                                                          5.0, "buy")  # fmt: skip
    ticker = next(r for r in records if isinstance(r, Ticker))
    assert (ticker.bid, ticker.ask, ticker.ts_ms) == (2.1737, 2.1738, 1640131263109)
    assert parser.stats.rejected["no_rate"] == 1  # SOS frame: nextFundingRate only


def test_listed_swap_trades_and_tickers_in_base_units() -> None:
    parser = listed().new_parser()
    records = parse_all(parser, frames("okx", "ws_trades.jsonl"))
    assert [(r.symbol, r.trade_id, r.price, r.size, r.side) for r in records] == [
        ("BTCUSDT", "130639474", 42219.9, pytest.approx(0.12), "buy"),
        ("ETHUSDT", "55012", 2051.17, pytest.approx(0.5), "sell"),
        ("ETHUSDT", "55013", 2051.16, pytest.approx(2.0), "sell"),
    ]
    assert parser.stats.rejected == {"duplicate": 1}  # the repeated BTC trade
    (ticker,) = parse_all(parser, frames("okx", "ws_tickers.jsonl"))
    assert (ticker.bid, ticker.ask, ticker.last, ticker.ts_ms) == (42220.0, 42220.1, 42220.0,
                                                                   1700000000300)  # fmt: skip
    assert (ticker.bid_size, ticker.ask_size) == (pytest.approx(1.2), pytest.approx(0.85))
    assert parser.stats.rejected["no_quote"] == 1  # ETH: askPx ""


def test_candles_funding_open_interest_and_liquidations() -> None:
    parser = listed().new_parser()
    closed, open_bar = parse_all(parser, frames("okx", "ws_candle1m.jsonl"))
    assert isinstance(closed, Kline) and closed.closed and not open_bar.closed
    assert (closed.open_time_ms, closed.open, closed.high, closed.low, closed.close) == (
        1699999980000,
        42210.5,
        42230.0,
        42200.1,
        42220.0,
    )
    assert closed.volume == 15.2  # volCcy: base units (vol 1520 is contracts)
    btc, eth = parse_all(parser, frames("okx", "ws_funding.jsonl"))
    assert (btc.funding_rate, btc.next_funding_time_ms, btc.ts_ms) == (0.0001515, 1700006400000,
                                                                       1700000000500)  # fmt: skip
    assert (btc.funding_interval_h, btc.mark_price) == (4.0, 42221.4)  # 1700020800000 - ...
    assert (eth.funding_rate, eth.mark_price) == (-0.00002, None)
    (oi,) = parse_all(parser, frames("okx", "ws_open_interest.jsonl"))
    assert (oi.open_interest, oi.open_interest_usd) == (2216113.01, 935652839.45)
    (liq,) = parse_all(parser, frames("okx", "ws_liquidations.jsonl"))  # DOGE: not followed
    assert isinstance(liq, Liquidation)
    assert (liq.symbol, liq.price, liq.side, liq.ts_ms) == ("BTCUSDT", 42100.5, "sell",
                                                            1700000000700)  # fmt: skip
    assert liq.size == pytest.approx(0.3)  # 30 contracts of 0.01 BTC


def test_spot_candles_and_index() -> None:
    parser = listed("okx_spot").new_parser()
    (bar,) = parse_all(parser, frames("okx_spot", "ws_candle1m.jsonl"))
    assert (bar.volume, bar.closed, bar.close) == (15.2, True, 42220.0)  # vol: base units
    assert parse_all(parser, frames("okx_spot", "ws_index.jsonl")) == []
    assert parser.stats.rejected == {}


def reasons(venue: str, texts: list[str | bytes]) -> list[tuple[str, bool]]:
    """(reject reason or "", frame proves the feed alive) per frame."""
    parser = listed(venue).new_parser()
    out = []
    for text in texts:
        before = dict(parser.stats.rejected)
        _, alive = parser.parse_with_liveness(text, RECV_MS)
        new = [k for k, v in parser.stats.rejected.items() if v != before.get(k, 0)]
        out.append((new[0] if new else "", alive))
    return out


def test_reject_reasons_and_liveness() -> None:
    ack, error, notice, price_limit, unknown = frames("okx", "ws_control.jsonl")
    trade = frames("okx", "ws_trades.jsonl")[0]
    msg = orjson.loads(trade)
    msg["data"][0]["instId"] = "PEPE-USDT-SWAP"  # listed (suspended), not followed
    unfollowed = orjson.dumps(msg).decode()
    msg["data"][0]["instId"] = "NOPE-EUR-SWAP"
    unknown_symbol = orjson.dumps(msg).decode()
    msg["data"][0].update(instId="BTC-USDT-SWAP", px="-1")
    bad_price = orjson.dumps(msg).decode()
    mark = frames("okx", "ws_funding.jsonl")[0]
    texts: list[str | bytes] = [
        ack,
        error,
        notice,
        price_limit,
        unknown,
        "pong",
        b"garbage",
        '{"event":"weird"}',
        unfollowed,
        unknown_symbol,
        bad_price,
        mark,
    ]
    assert reasons("okx", texts) == [
        ("ignored", False), ("venue_error", False), ("ignored", False), ("ignored", False),
        ("unknown_topic", False), ("ignored", False), ("malformed", False),
        ("unknown_event", False), ("not_followed", True), ("unknown_symbol", True),
        ("malformed", False), ("", True),
    ]  # fmt: skip


def test_spot_ignores_swap_channels() -> None:
    funding = frames("okx", "ws_funding.jsonl")[1]
    index = frames("okx_spot", "ws_index.jsonl")[0]
    assert reasons("okx_spot", [funding, index]) == [("ignored", False), ("", True)]
