"""The exchange simulator over real sockets: handshakes, frame shapes, REST, faults, replay.

Each test starts the simulator in-process on a free port and talks to it with the same client
libraries the collectors use (websockets, aiohttp). Every wait is bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError

from microservices.exchange_simulator.config import MarketConfig, SimulatorConfig
from microservices.exchange_simulator.server import SimulatorHandle, start_simulator
from tests.fixture_paths import capture_frames, shared_fixture

pytestmark = pytest.mark.integration

TIMEOUT = 10.0
FAST_LIQUIDATIONS = MarketConfig(liquidations_per_min=6000.0, rate=60.0)
ISO_US = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def typed(s: str = "", i: str = "", b: str = "", **nested: Any) -> dict[str, Any]:
    """Expected JSON types of a payload: space-separated str, int and bool field names."""
    kinds = {"str": s, "int": i, "bool": b}
    return {f: kind for kind, names in kinds.items() for f in names.split()} | nested


def names(text: str) -> list[str]:
    return text.split()


SPOT_AGG_TRADE = typed(s="e s p q", i="E a f l T", b="m M")
SPOT_TRADE = typed(s="e s p q", i="E t T", b="m M")
SPOT_BOOK_TICKER = typed(s="s b B a A", i="u")
KLINE = typed(s="e s", i="E", k=typed(s="s i o c h l v q V Q B", i="t T f L n", b="x"))
FUT_AGG_TRADE = typed(s="e s p q", i="E a f l T", b="m")
FUT_BOOK_TICKER = typed(s="e s b B a A", i="u E T")
MARK_PRICE = typed(s="e s p i P r", i="E T")
FORCE_ORDER = typed(s="e", i="E", o=typed(s="s S o f q p ap X l z", i="T"))
BYBIT_ACK = typed(s="ret_msg conn_id req_id op", b="success")
BYBIT_TRADE_ROW = typed(s="s S v p L i", i="T seq", b="BT")
BYBIT_KLINE_ROW = typed(
    s="interval open close high low volume turnover", i="start end timestamp", b="confirm"
)
BYBIT_LINEAR_TICKER = names(
    "symbol tickDirection price24hPcnt lastPrice prevPrice24h highPrice24h lowPrice24h "
    "prevPrice1h markPrice indexPrice openInterest openInterestValue turnover24h volume24h "
    "fundingIntervalHour fundingCap nextFundingTime fundingRate bid1Price bid1Size ask1Price "
    "ask1Size preOpenPrice preQty curPreListingPhase"
)
COINBASE_TICKER = names(
    "type sequence product_id price open_24h volume_24h low_24h high_24h volume_30d best_bid "
    "best_bid_size best_ask best_ask_size side time trade_id last_size"
)
COINBASE_MATCH = names(
    "type trade_id maker_order_id taker_order_id side size price product_id sequence time"
)
HEARTBEAT = typed(s="type product_id time", i="sequence last_trade_id")


# ----------------------------------------------------------------------------- helpers


def shape(value: Any) -> Any:
    """JSON type skeleton: dict keys kept, lists by their first item, leaves by type name."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, int | float) else type(value).__name__


def assert_fields_subset(real: Any, simulated: Any, where: str = "") -> None:
    """Every field of the real frame exists in the simulated one with the same JSON type."""
    if isinstance(real, dict):
        assert isinstance(simulated, dict), where
        for key, value in real.items():
            assert key in simulated, f"{where}.{key} missing"
            assert_fields_subset(value, simulated[key], f"{where}.{key}")
    elif isinstance(real, list):
        assert isinstance(simulated, list), where
        if real and simulated:
            assert_fields_subset(real[0], simulated[0], where + "[0]")
    else:
        assert _kind(real) == _kind(simulated), where


@asynccontextmanager
async def simulator(**overrides: Any) -> AsyncIterator[SimulatorHandle]:
    async with start_simulator(SimulatorConfig(port=0, **overrides)) as sim:
        yield sim


async def recv_json(ws: ClientConnection, limit_s: float = TIMEOUT) -> Any:
    async with asyncio.timeout(limit_s):
        return json.loads(await ws.recv())


async def collect(
    ws: ClientConnection,
    done: Callable[[list[Any]], bool],
    limit: int = 3000,
    limit_s: float = TIMEOUT,
) -> list[Any]:
    """Decoded frames until `done(frames)` is true (bounded by count and time)."""
    frames: list[Any] = []
    async with asyncio.timeout(limit_s):
        while not done(frames):
            frames.append(json.loads(await ws.recv()))
            assert len(frames) <= limit, "condition not met within the frame limit"
    return frames


async def until_closed(ws: ClientConnection, limit_s: float = TIMEOUT) -> list[str | bytes]:
    """Every frame received until the server closes the connection."""
    frames: list[str | bytes] = []
    async with asyncio.timeout(limit_s):
        try:
            while True:
                frames.append(await ws.recv())
        except ConnectionClosed:
            return frames


async def wait_for(condition: Callable[[], bool], limit_s: float = TIMEOUT) -> None:
    """Poll a counter of the simulator until `condition()` holds (bounded)."""
    async with asyncio.timeout(limit_s):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


def by_stream(frames: list[Any]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for frame in frames:
        grouped.setdefault(frame["stream"], []).append(frame["data"])
    return grouped


def seen_all(keys: set[str], field: str) -> Callable[[list[Any]], bool]:
    return lambda frames: keys <= {f.get(field) for f in frames if isinstance(f, dict)}


async def get_json(session: aiohttp.ClientSession, url: str) -> tuple[int, Any, Any]:
    async with session.get(url) as response:
        return response.status, await response.json(content_type=None), response.headers


# ----------------------------------------------------------------------------- Binance


async def test_binance_spot_combined_streams_have_the_real_shapes() -> None:
    streams = {"btcusdt@aggTrade", "btcusdt@trade", "btcusdt@bookTicker", "btcusdt@kline_1m"}
    async with simulator(market=MarketConfig(rate=100)) as sim:
        url = f"{sim.ws_base}/binance/stream?streams=" + "/".join(sorted(streams))
        async with connect(url) as ws:
            frames = await collect(ws, seen_all(streams, "stream"))
    assert all(set(f) == {"stream", "data"} for f in frames)
    got = by_stream(frames)
    assert shape(got["btcusdt@aggTrade"][0]) == SPOT_AGG_TRADE
    assert shape(got["btcusdt@trade"][0]) == SPOT_TRADE
    assert shape(got["btcusdt@bookTicker"][0]) == SPOT_BOOK_TICKER
    assert shape(got["btcusdt@kline_1m"][0]) == KLINE
    for quote in got["btcusdt@bookTicker"]:
        assert quote["s"] == "BTCUSDT" and 0 < float(quote["b"]) < float(quote["a"])
        assert 30_000 < float(quote["b"]) < 130_000
    trades = got["btcusdt@aggTrade"]
    assert [t["f"] for t in trades] == sorted(t["f"] for t in trades)


async def test_binance_raw_socket_and_live_subscribe() -> None:
    async with simulator() as sim, connect(f"{sim.ws_base}/binance/ws") as ws:
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["ethusdt@aggTrade"], "id": 1}))
        assert await recv_json(ws) == {"result": None, "id": 1}
        data = await recv_json(ws)
        assert data["e"] == "aggTrade" and data["s"] == "ETHUSDT"  # raw: no wrapper
        await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
        frames = await collect(ws, lambda fs: any(f.get("id") == 2 for f in fs))
        assert frames[-1] == {"result": ["ethusdt@aggTrade"], "id": 2}
        await ws.send(json.dumps({"method": "NOPE", "id": 3}))
        frames = await collect(ws, lambda fs: any(f.get("id") == 3 for f in fs))
        assert frames[-1]["code"] == 2


async def test_binance_raw_stream_path() -> None:
    async with simulator() as sim, connect(f"{sim.ws_base}/binance/ws/solusdt@bookTicker") as ws:
        data = await recv_json(ws)
    assert shape(data) == SPOT_BOOK_TICKER and data["s"] == "SOLUSDT"


async def test_binance_pings_and_closes_a_client_that_never_pongs() -> None:
    overrides = {"binance_ping_interval_s": 0.05, "binance_pong_timeout_s": 0.3}
    async with simulator(**overrides) as sim, aiohttp.ClientSession() as http:
        url = f"{sim.ws_base}/binance/ws/btcusdt@bookTicker"
        async with http.ws_connect(url, autoping=False) as ws:
            kinds: list[aiohttp.WSMsgType] = []
            async with asyncio.timeout(TIMEOUT):
                async for msg in ws:  # ends when the server closes
                    kinds.append(msg.type)
            assert aiohttp.WSMsgType.PING in kinds
            assert ws.close_code == 1008
        await wait_for(lambda: sim.stats()["venues"]["binance"]["server_closes"] == 1)


async def test_binance_futures_streams_have_the_real_shapes() -> None:
    streams = {
        "btcusdt@aggTrade",
        "btcusdt@bookTicker",
        "btcusdt@kline_1m",
        "btcusdt@markPrice@1s",
        "btcusdt@forceOrder",
    }
    async with simulator(market=FAST_LIQUIDATIONS) as sim:
        url = f"{sim.ws_base}/binance_futures/stream?streams=" + "/".join(sorted(streams))
        async with connect(url) as ws:
            frames = await collect(ws, seen_all(streams, "stream"))
    got = by_stream(frames)
    assert shape(got["btcusdt@aggTrade"][0]) == FUT_AGG_TRADE
    assert shape(got["btcusdt@bookTicker"][0]) == FUT_BOOK_TICKER
    assert shape(got["btcusdt@kline_1m"][0]) == KLINE
    assert shape(got["btcusdt@markPrice@1s"][0]) == MARK_PRICE
    assert shape(got["btcusdt@forceOrder"][0]) == FORCE_ORDER
    mark = got["btcusdt@markPrice@1s"][0]
    assert mark["e"] == "markPriceUpdate" and float(mark["r"]) == pytest.approx(0.0001)
    assert mark["T"] % (8 * 3600 * 1000) == 0


async def test_binance_futures_routed_market_path() -> None:
    async with simulator() as sim:
        url = f"{sim.ws_base}/binance_futures/market/stream?streams=ethusdt@markPrice@1s"
        async with connect(url) as ws:
            frame = await recv_json(ws)
    assert frame["stream"] == "ethusdt@markPrice@1s" and frame["data"]["s"] == "ETHUSDT"


@pytest.mark.real_fixtures
async def test_binance_frames_match_the_recorded_fields() -> None:
    spot_docs = shared_fixture("binance/docs-examples")
    futures_docs = shared_fixture("binance-futures/docs-examples")
    futures_ws = shared_fixture("binance-futures/ws/tardis-node_mappers-test_samples.jsonl")
    recorded = [json.loads(f) for f in capture_frames(futures_ws)]
    real_fut = {f["stream"]: f["data"] for f in recorded}
    async with simulator(market=FAST_LIQUIDATIONS) as sim:
        spot = ["btcusdt@aggTrade", "btcusdt@trade", "btcusdt@bookTicker", "btcusdt@kline_1m"]
        async with connect(f"{sim.ws_base}/binance/stream?streams=" + "/".join(spot)) as ws:
            got = by_stream(await collect(ws, seen_all(set(spot), "stream")))
        fut = [
            "btcusdt@aggTrade",
            "btcusdt@bookTicker",
            "btcusdt@markPrice@1s",
            "btcusdt@forceOrder",
        ]
        async with connect(f"{sim.ws_base}/binance_futures/stream?streams=" + "/".join(fut)) as ws:
            fgot = by_stream(await collect(ws, seen_all(set(fut), "stream")))
    for name, stream in (
        ("ws_aggTrade.0", "btcusdt@aggTrade"),
        ("ws_trade.0", "btcusdt@trade"),
        ("ws_bookTicker.0", "btcusdt@bookTicker"),
        ("ws_kline.0", "btcusdt@kline_1m"),
    ):
        real = json.loads((spot_docs / f"{name}.json").read_text())
        assert shape(got[stream][0]) == shape(real), name
    for name, stream in (
        ("ws_markPriceUpdate", "btcusdt@markPrice@1s"),
        ("ws_forceOrder", "btcusdt@forceOrder"),
    ):
        real = json.loads((futures_docs / f"{name}.json").read_text())
        assert shape(fgot[stream][0]) == shape(real), name
    assert shape(fgot["btcusdt@bookTicker"][0]) == shape(real_fut["btcusdt@bookTicker"])
    assert_fields_subset(real_fut["btcusdt@aggTrade"], fgot["btcusdt@aggTrade"][0])


# ----------------------------------------------------------------------------- Bybit


async def test_bybit_linear_subscribe_ack_and_topics() -> None:
    topics = [
        "publicTrade.BTCUSDT",
        "tickers.BTCUSDT",
        "kline.1.BTCUSDT",
        "allLiquidation.BTCUSDT",
        "orderbook.1.BTCUSDT",
    ]
    async with (
        simulator(market=FAST_LIQUIDATIONS) as sim,
        connect(f"{sim.ws_base}/bybit/v5/public/linear") as ws,
    ):
        await ws.send(json.dumps({"op": "subscribe", "args": topics, "req_id": "abc"}))
        ack = await recv_json(ws)
        frames = await collect(
            ws,
            lambda fs: (
                seen_all(set(topics), "topic")(fs)
                and sum(f["topic"] == "tickers.BTCUSDT" for f in fs) >= 3
            ),
        )
    assert shape(ack) == BYBIT_ACK
    assert (ack["success"], ack["ret_msg"], ack["req_id"], ack["op"]) == (
        True,
        "",
        "abc",
        "subscribe",
    )
    grouped: dict[str, list[Any]] = {}
    for frame in frames:
        grouped.setdefault(frame["topic"], []).append(frame)
    trade = grouped["publicTrade.BTCUSDT"][0]
    assert trade["type"] == "snapshot" and shape(trade["data"][0]) == BYBIT_TRADE_ROW
    assert trade["data"][0]["S"] in ("Buy", "Sell")
    kline = grouped["kline.1.BTCUSDT"][0]
    assert shape(kline["data"][0]) == BYBIT_KLINE_ROW and set(kline) == {
        "topic",
        "data",
        "ts",
        "type",
    }
    liq = grouped["allLiquidation.BTCUSDT"][0]
    assert shape(liq["data"][0]) == {"T": "int", "s": "str", "S": "str", "v": "str", "p": "str"}
    book = grouped["orderbook.1.BTCUSDT"][0]
    assert set(book["data"]) == {"s", "b", "a", "u", "seq"} and shape(book["data"]["b"]) == [
        ["str"]
    ]
    tickers = grouped["tickers.BTCUSDT"]
    snapshot, deltas = tickers[0], tickers[1:]
    assert snapshot["type"] == "snapshot" and list(snapshot["data"]) == BYBIT_LINEAR_TICKER
    assert set(snapshot) == {"topic", "type", "data", "cs", "ts"}
    assert snapshot["data"]["fundingRate"] == "0.0003"
    merged = dict(snapshot["data"])
    for delta in deltas:
        assert delta["type"] == "delta" and delta["data"]["symbol"] == "BTCUSDT"
        assert set(delta["data"]) <= set(BYBIT_LINEAR_TICKER)
        assert len(delta["data"]) < len(BYBIT_LINEAR_TICKER)
        merged.update(delta["data"])
    assert float(merged["bid1Price"]) < float(merged["ask1Price"])


async def test_bybit_spot_topics() -> None:
    topics = ["publicTrade.ETHUSDT", "tickers.ETHUSDT", "orderbook.1.ETHUSDT"]
    async with (
        simulator(market=MarketConfig(rate=100)) as sim,
        connect(f"{sim.ws_base}/bybit/v5/public/spot") as ws,
    ):
        await ws.send(json.dumps({"op": "subscribe", "args": topics, "req_id": "10001"}))
        ack = await recv_json(ws)
        frames = await collect(ws, seen_all(set(topics), "topic"))
    assert (ack["success"], ack["ret_msg"], ack["op"]) == (True, "subscribe", "subscribe")
    for frame in frames:
        assert frame["type"] == "snapshot"  # spot: tickers and level-1 books are snapshots
        if frame["topic"] == "publicTrade.ETHUSDT":
            assert "L" not in frame["data"][0] and frame["data"][0]["i"].isdigit()
        if frame["topic"] == "orderbook.1.ETHUSDT":
            assert set(frame["data"]) == {"s", "b", "a", "u", "seq"}
        if frame["topic"] == "tickers.ETHUSDT":
            assert "usdIndexPrice" in frame["data"] and "fundingRate" not in frame["data"]


async def test_bybit_ping_pong() -> None:
    async with simulator() as sim, connect(f"{sim.ws_base}/bybit/v5/public/linear") as ws:
        await ws.send(json.dumps({"req_id": "100001", "op": "ping"}))
        pong = await recv_json(ws)
        async with connect(f"{sim.ws_base}/bybit/v5/public/spot") as ws:
            await ws.send(json.dumps({"op": "ping"}))
            spot_pong = await recv_json(ws)
    assert {k: v for k, v in pong.items() if k != "conn_id"} == {
        "success": True,
        "ret_msg": "pong",
        "req_id": "100001",
        "op": "ping",
    }
    assert (
        set(spot_pong) == {"success", "ret_msg", "conn_id", "op"} and spot_pong["ret_msg"] == "pong"
    )


async def test_bybit_refuses_unknown_topics() -> None:
    async with simulator() as sim, connect(f"{sim.ws_base}/bybit/v5/public/linear") as ws:
        await ws.send(
            json.dumps({"op": "subscribe", "args": ["publicTrade.NOPEUSDT", "foo.BTCUSDT"]})
        )
        ack = await recv_json(ws)
    assert ack["success"] is False
    assert "publicTrade.NOPEUSDT" in ack["ret_msg"] and "foo.BTCUSDT" in ack["ret_msg"]


async def test_bybit_closes_a_silent_client() -> None:
    async with (
        simulator(bybit_idle_timeout_s=0.2) as sim,
        connect(f"{sim.ws_base}/bybit/v5/public/linear") as ws,
    ):
        assert await until_closed(ws) == []
        assert ws.close_code == 1008
        await wait_for(lambda: sim.stats()["venues"]["bybit"]["ws_closed"] == 1)
        assert sim.stats()["venues"]["bybit"]["server_closes"] == 1


# ----------------------------------------------------------------------------- Coinbase


async def test_coinbase_subscribe_flow_and_shapes() -> None:
    async with (
        simulator(market=MarketConfig(rate=60)) as sim,
        connect(f"{sim.ws_base}/coinbase") as ws,
    ):
        await ws.send(
            json.dumps(
                {
                    "type": "subscribe",
                    "product_ids": ["BTC-USD"],
                    "channels": ["ticker", "matches", "heartbeat"],
                }
            )
        )
        reply = await recv_json(ws)
        frames = await collect(
            ws,
            lambda fs: (
                {"ticker", "match", "heartbeat", "last_match"} <= {f["type"] for f in fs}
                and len(fs) > 30
            ),
        )
    assert reply == {
        "type": "subscriptions",
        "channels": [
            {"name": "heartbeat", "product_ids": ["BTC-USD"]},
            {"name": "matches", "product_ids": ["BTC-USD"]},
            {"name": "ticker", "product_ids": ["BTC-USD"]},
        ],
    }
    kinds = [f["type"] for f in frames]
    assert kinds.index("last_match") < kinds.index("match")
    tickers = [f for f in frames if f["type"] == "ticker"]
    matches = {f["trade_id"]: f for f in frames if f["type"] == "match"}
    assert (
        list(tickers[-1]) == COINBASE_TICKER
        and list(next(iter(matches.values()))) == COINBASE_MATCH
    )
    heartbeat = next(f for f in frames if f["type"] == "heartbeat")
    assert shape(heartbeat) == HEARTBEAT
    for frame in frames:
        assert frame["product_id"] == "BTC-USD" and ISO_US.match(frame["time"])
    for ticker in tickers:
        match = matches.get(ticker["trade_id"])
        if match is not None:  # ticker side = taker side, match side = maker side
            assert match["side"] != ticker["side"] and match["sequence"] == ticker["sequence"]
    sequences = [t["sequence"] for t in tickers]
    assert sequences == sorted(sequences)


async def test_coinbase_level2_batch() -> None:
    async with (
        simulator(market=MarketConfig(rate=60)) as sim,
        connect(f"{sim.ws_base}/coinbase") as ws,
    ):
        await ws.send(
            json.dumps(
                {"type": "subscribe", "product_ids": ["ETH-USD"], "channels": ["level2_batch"]}
            )
        )
        await recv_json(ws)
        snapshot = await recv_json(ws)
        update = await recv_json(ws)
    assert snapshot["type"] == "snapshot" and shape(snapshot["bids"]) == [["str"]]
    assert update["type"] == "l2update" and update["changes"][0][0] in ("buy", "sell")


async def test_coinbase_disconnects_a_client_that_never_subscribes() -> None:
    async with (
        simulator(coinbase_subscribe_timeout_s=0.2) as sim,
        connect(f"{sim.ws_base}/coinbase") as ws,
    ):
        assert await until_closed(ws) == []
        assert ws.close_code == 1008
        await wait_for(lambda: sim.stats()["venues"]["coinbase"]["ws_closed"] == 1)
        assert sim.stats()["venues"]["coinbase"]["server_closes"] == 1


async def test_coinbase_refuses_unknown_products() -> None:
    async with simulator() as sim, connect(f"{sim.ws_base}/coinbase") as ws:
        await ws.send(
            json.dumps({"type": "subscribe", "product_ids": ["FOO-USD"], "channels": ["ticker"]})
        )
        error = await recv_json(ws)
    assert error == {
        "type": "error",
        "message": "Failed to subscribe",
        "reason": "FOO-USD is not a valid product",
    }


# ----------------------------------------------------------------------------- REST


async def test_binance_rest_shapes() -> None:
    async with simulator() as sim, aiohttp.ClientSession() as http:
        base = sim.rest_url("binance")
        status, rows, headers = await get_json(
            http, f"{base}/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=3"
        )
        assert status == 200 and len(rows) == 3
        assert shape(rows[0]) == ["int"]  # list of mixed types: check each position
        assert [type(v).__name__ for v in rows[0]] == [
            "int",
            "str",
            "str",
            "str",
            "str",
            "str",
            "int",
            "str",
            "int",
            "str",
            "str",
            "str",
        ]
        assert rows[0][0] < rows[1][0] < rows[2][0]
        used = int(headers["X-MBX-USED-WEIGHT-1M"])
        status, ticker, headers = await get_json(
            http, f"{base}/api/v3/ticker/bookTicker?symbol=ETHUSDT"
        )
        assert set(ticker) == {"symbol", "bidPrice", "bidQty", "askPrice", "askQty"}
        assert int(headers["X-MBX-USED-WEIGHT-1M"]) > used
        status, info, _ = await get_json(http, f"{base}/api/v3/exchangeInfo")
        assert info["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT"
        assert {s["symbol"] for s in info["symbols"]} == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}
        status, error, headers = await get_json(
            http, f"{base}/api/v3/klines?symbol=NOPE&interval=1m"
        )
        assert (status, error["code"]) == (400, -1121) and "X-MBX-USED-WEIGHT-1M" in headers


async def test_binance_futures_rest_shapes() -> None:
    async with simulator() as sim, aiohttp.ClientSession() as http:
        base = sim.rest_url("binance_futures")
        _, premium, _ = await get_json(http, f"{base}/fapi/v1/premiumIndex?symbol=BTCUSDT")
        assert list(premium) == [
            "symbol",
            "markPrice",
            "indexPrice",
            "estimatedSettlePrice",
            "lastFundingRate",
            "interestRate",
            "nextFundingTime",
            "time",
        ]
        _, funding, _ = await get_json(http, f"{base}/fapi/v1/fundingRate?symbol=BTCUSDT&limit=3")
        assert len(funding) == 3 and set(funding[0]) == {
            "symbol",
            "fundingRate",
            "fundingTime",
            "markPrice",
        }
        assert funding[0]["fundingTime"] < funding[1]["fundingTime"]
        _, oi, _ = await get_json(http, f"{base}/fapi/v1/openInterest?symbol=BTCUSDT")
        assert shape(oi) == {"openInterest": "str", "symbol": "str", "time": "int"}
        _, hist, _ = await get_json(
            http, f"{base}/futures/data/openInterestHist?symbol=BTCUSDT&period=5m&limit=4"
        )
        assert len(hist) == 4 and shape(hist[0]) == {
            "symbol": "str",
            "sumOpenInterest": "str",
            "sumOpenInterestValue": "str",
            "timestamp": "int",
        }
        status, rows, headers = await get_json(
            http, f"{base}/fapi/v1/klines?symbol=SOLUSDT&interval=5m&limit=2"
        )
        assert status == 200 and len(rows) == 2 and rows[1][0] - rows[0][0] == 300_000
        assert "X-MBX-USED-WEIGHT-1M" in headers
        _, info, _ = await get_json(http, f"{base}/fapi/v1/exchangeInfo")
        assert info["symbols"][0]["contractType"] == "PERPETUAL"


@pytest.mark.real_fixtures
async def test_futures_premium_index_matches_the_docs_example() -> None:
    real = json.loads(
        shared_fixture(
            "binance-futures/docs-examples/rest_fapi_v1_premiumIndex.symbol.json"
        ).read_text()
    )
    async with simulator() as sim, aiohttp.ClientSession() as http:
        _, premium, _ = await get_json(
            http, f"{sim.rest_url('binance_futures')}/fapi/v1/premiumIndex?symbol=BTCUSDT"
        )
    assert shape(premium) == shape(real)


async def test_bybit_rest_shapes() -> None:
    async with simulator() as sim, aiohttp.ClientSession() as http:
        base = sim.rest_url("bybit") + "/v5/market"
        _, kline, _ = await get_json(
            http, f"{base}/kline?category=linear&symbol=BTCUSDT&interval=1&limit=3"
        )
        assert set(kline) == {"retCode", "retMsg", "result", "retExtInfo", "time"}
        rows = kline["result"]["list"]
        assert len(rows) == 3 and shape(rows[0]) == ["str"] and len(rows[0]) == 7
        assert int(rows[0][0]) > int(rows[1][0])  # newest first
        _, tickers, _ = await get_json(http, f"{base}/tickers?category=linear&symbol=BTCUSDT")
        row = tickers["result"]["list"][0]
        assert set(BYBIT_LINEAR_TICKER) <= set(row) and row["fundingRate"] == "0.0003"
        _, spot, _ = await get_json(http, f"{base}/tickers?category=spot&symbol=BTCUSDT")
        assert "bid1Price" in spot["result"]["list"][0]
        _, funding, _ = await get_json(
            http, f"{base}/funding/history?category=linear&symbol=BTCUSDT&limit=2"
        )
        assert shape(funding["result"]["list"][0]) == {
            "symbol": "str",
            "fundingRate": "str",
            "fundingRateTimestamp": "str",
        }
        _, oi, _ = await get_json(
            http, f"{base}/open-interest?category=linear&symbol=BTCUSDT&intervalTime=5min&limit=2"
        )
        assert shape(oi["result"]["list"][0]) == {"openInterest": "str", "timestamp": "str"}
        assert oi["result"]["nextPageCursor"] == ""
        status, error, _ = await get_json(
            http, f"{base}/kline?category=linear&symbol=NOPE&interval=1"
        )
        assert status == 200 and error["retCode"] == 10001


async def test_coinbase_rest_shapes() -> None:
    async with simulator() as sim, aiohttp.ClientSession() as http:
        base = sim.rest_url("coinbase")
        _, candles, _ = await get_json(http, f"{base}/products/BTC-USD/candles?granularity=60")
        assert len(candles) == 300 and candles[0][0] > candles[1][0]
        time_, low, high, open_, close, volume = candles[1]
        assert isinstance(time_, int) and low <= min(open_, close) <= max(open_, close) <= high
        assert volume >= 0
        _, ticker, _ = await get_json(http, f"{base}/products/BTC-USD/ticker")
        assert {"ask", "bid", "volume", "trade_id", "price", "size", "time"} <= set(ticker)
        _, products, _ = await get_json(http, f"{base}/products")
        assert {p["id"] for p in products} == {"BTC-USD", "ETH-USD", "SOL-USD"}
        status, _, _ = await get_json(http, f"{base}/products/FOO-USD/ticker")
        assert status == 404
        status, error, _ = await get_json(http, f"{base}/products/BTC-USD/candles?granularity=7")
        assert status == 400 and "granularity" in error["message"]


# ----------------------------------------------------------------------------- REST faults


async def test_429_window_violations_and_418_escalation() -> None:
    async with simulator() as sim, aiohttp.ClientSession() as http:
        sim.set_faults(
            "binance", rate_limit_burst=1, retry_after_s=30, ban_after_violations=2, ban_s=60
        )
        url = f"{sim.rest_url('binance')}/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1"
        status, body, headers = await get_json(http, url)
        assert (status, body["code"], headers["Retry-After"]) == (429, -1003, "30")
        assert "X-MBX-USED-WEIGHT-1M" in headers
        assert sim.stats()["venues"]["binance"]["rest_inside_retry_after"] == 0
        status, _, _ = await get_json(http, url)  # inside the window
        assert status == 429
        status, body, headers = await get_json(http, url)  # still hammering: banned
        assert (status, body["code"], headers["Retry-After"]) == (418, -1003, "60")
        status, _, _ = await get_json(http, url)
        assert status == 418
        _, stats, _ = await get_json(http, f"{sim.base_url}/_sim/stats")
    binance = stats["venues"]["binance"]
    assert (binance["rest_429"], binance["rest_418"], binance["rest_inside_retry_after"]) == (
        2,
        2,
        3,
    )
    assert stats["totals"]["rest_inside_retry_after"] == 3


async def test_a_client_honouring_retry_after_is_never_a_violator() -> None:
    async with simulator() as sim, aiohttp.ClientSession() as http:
        sim.set_faults("bybit", rate_limit_burst=1, retry_after_s=1)
        url = f"{sim.rest_url('bybit')}/v5/market/tickers?category=linear"
        status, body, headers = await get_json(http, url)
        assert (status, body["retCode"]) == (429, 10006)
        await asyncio.sleep(int(headers["Retry-After"]) + 0.2)
        status, _, _ = await get_json(http, url)
        assert status == 200
    assert sim.stats()["venues"]["bybit"]["rest_inside_retry_after"] == 0


async def test_server_error_burst_then_recovery() -> None:
    async with simulator() as sim, aiohttp.ClientSession() as http:
        sim.set_faults("coinbase", server_error_burst=2, latency_ms=5)
        url = f"{sim.rest_url('coinbase')}/products"
        statuses = [(await get_json(http, url))[0] for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert sim.stats()["venues"]["coinbase"]["rest_5xx"] == 2


async def test_control_api() -> None:
    async with simulator() as sim, aiohttp.ClientSession() as http:
        status, health, _ = await get_json(http, f"{sim.base_url}/_sim/health")
        assert (status, health) == (200, {"ok": True})
        async with http.post(
            f"{sim.base_url}/_sim/faults", json={"venue": "binance", "drop_every": 3}
        ) as r:
            assert r.status == 200
        _, faults, _ = await get_json(http, f"{sim.base_url}/_sim/faults")
        assert (
            faults["venues"]["binance"]["drop_every"] == 3
            and faults["venues"]["bybit"]["drop_every"] == 0
        )
        async with http.post(f"{sim.base_url}/_sim/faults", json={"drop_everyy": 3}) as r:
            assert r.status == 400 and "drop_everyy" in (await r.json())["error"]
        async with http.post(f"{sim.base_url}/_sim/faults", json={"reset": True}) as r:
            assert (await r.json())["venues"]["binance"]["drop_every"] == 0


# ----------------------------------------------------------------------------- WS faults


async def test_drop_every_n_frames_and_stats_match_the_client() -> None:
    async with simulator(market=MarketConfig(rate=100)) as sim:
        sim.set_faults("binance", drop_every=7)
        url = f"{sim.ws_base}/binance/stream?streams=btcusdt@aggTrade/btcusdt@bookTicker"
        async with connect(url) as ws:
            frames = await until_closed(ws)
            assert ws.close_code == 1001
        await wait_for(lambda: sim.stats()["venues"]["binance"]["ws_closed"] == 1)
        stats = sim.stats()["venues"]["binance"]
    received = Counter(json.loads(f)["stream"] for f in frames)
    assert sum(received.values()) == 7
    assert stats["frames_by_stream"] == dict(received)
    assert (stats["frames_sent"], stats["data_frames_sent"], stats["drops"]) == (7, 7, 1)
    assert (stats["ws_opened"], stats["ws_closed"]) == (1, 1)


async def test_drop_by_abort_sends_no_close_frame() -> None:
    async with simulator() as sim:
        sim.set_faults("bybit", drop_every=3, drop_mode="abort")
        async with connect(f"{sim.ws_base}/bybit/v5/public/linear") as ws:
            await ws.send(json.dumps({"op": "subscribe", "args": ["orderbook.1.BTCUSDT"]}))
            with pytest.raises(ConnectionClosedError) as closed:
                async with asyncio.timeout(TIMEOUT):
                    while True:
                        await ws.recv()
    assert closed.value.rcvd is None


@pytest.mark.parametrize(
    "kind", ["invalid_json", "nan_price", "negative_price", "unknown_topic", "binary"]
)
async def test_malformed_frames(kind: str) -> None:
    async with simulator() as sim:
        sim.set_faults("binance", malformed_rate=1.0, malformed_kinds=[kind])
        async with connect(f"{sim.ws_base}/binance/stream?streams=btcusdt@bookTicker") as ws:
            async with asyncio.timeout(TIMEOUT):
                frames = [await ws.recv() for _ in range(5)]
    for frame in frames:
        if kind == "binary":
            assert isinstance(frame, bytes)
            continue
        assert isinstance(frame, str)
        if kind == "invalid_json":
            with pytest.raises(json.JSONDecodeError):
                json.loads(frame)
            continue
        parsed = json.loads(frame)  # Python's json accepts the NaN literal, orjson does not
        if kind == "nan_price":
            assert parsed["data"]["b"] == "NaN"
        elif kind == "negative_price":
            assert float(parsed["data"]["b"]) < 0
        else:
            assert parsed["stream"] != "btcusdt@bookTicker"
    assert sim.stats()["venues"]["binance"]["malformed_sent"] >= 5


async def test_some_frames_malformed_at_a_rate() -> None:
    async with simulator(market=MarketConfig(rate=200)) as sim:
        sim.set_faults("coinbase", malformed_rate=0.3, malformed_kinds=["invalid_json"])
        async with connect(f"{sim.ws_base}/coinbase") as ws:
            await ws.send(
                json.dumps(
                    {"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["ticker"]}
                )
            )
            async with asyncio.timeout(TIMEOUT):
                frames = [await ws.recv() for _ in range(200)]
    bad = 0
    for frame in frames:
        try:
            orjson.loads(frame)
        except orjson.JSONDecodeError:
            bad += 1
    assert 20 < bad < 120  # about 30 % of ~199 data frames (seeded)
    assert orjson.loads(frames[0])["type"] == "subscriptions"  # control frames are never spoiled


async def test_silence_keeps_the_socket_open() -> None:
    async with simulator(market=MarketConfig(rate=100)) as sim:
        sim.set_faults("binance", silence_after=3)
        async with connect(f"{sim.ws_base}/binance/ws/btcusdt@bookTicker") as ws:
            for _ in range(3):
                assert (await recv_json(ws))["s"] == "BTCUSDT"
            await wait_for(lambda: sim.stats()["venues"]["binance"]["frames_suppressed"] > 0)
            await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 9}))
            assert await recv_json(ws) == {"result": ["btcusdt@bookTicker"], "id": 9}
        assert sim.stats()["venues"]["binance"]["data_frames_sent"] == 3


BYBIT_BOOK_SUB = json.dumps({"op": "subscribe", "args": ["orderbook.1.BTCUSDT"]})
COINBASE_SUB = json.dumps(
    {"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["ticker", "heartbeat"]}
)


@pytest.mark.parametrize(
    ("venue", "path", "subscribe"),
    [
        ("binance", "/binance/ws/btcusdt@bookTicker", None),
        ("binance_futures", "/binance_futures/ws/btcusdt@bookTicker", None),
        ("bybit", "/bybit/v5/public/linear", BYBIT_BOOK_SUB),
        ("bybit", "/bybit/v5/public/spot", BYBIT_BOOK_SUB),
        ("coinbase", "/coinbase", COINBASE_SUB),
    ],
)
async def test_a_silenced_socket_still_pings_and_pongs(
    venue: str, path: str, subscribe: str | None
) -> None:
    """Silence stops market data (heartbeats included) and nothing else: Binance's server
    pings, Bybit's JSON pongs and protocol pongs keep flowing, as when a real feed stalls."""
    async with simulator(binance_ping_interval_s=0.05, futures_ping_interval_s=0.05) as sim:
        sim.set_faults(venue, silence_after=0)

        def stats() -> dict[str, Any]:
            return sim.stats()["venues"][venue]  # type: ignore[no-any-return]

        async with connect(sim.ws_base + path, ping_interval=None) as ws:
            if subscribe is not None:
                await ws.send(subscribe)
                await recv_json(ws)  # the ack: a control frame, never silenced
            for _ in range(3):
                if venue == "bybit":
                    await ws.send(json.dumps({"req_id": "p", "op": "ping"}))
                    assert (await recv_json(ws))["ret_msg"] == "pong"
                else:
                    async with asyncio.timeout(TIMEOUT):
                        await (await ws.ping())
            if venue.startswith("binance"):
                await wait_for(lambda: stats()["pings_sent"] >= 3)  # answered by the client
            await wait_for(lambda: stats()["frames_suppressed"] > 0)
        final = stats()
    assert final["data_frames_sent"] == 0
    assert final["pongs_sent"] == 3


async def test_latency_still_delivers() -> None:
    async with simulator() as sim:
        sim.set_faults(None, latency_ms=30)
        async with connect(f"{sim.ws_base}/bybit/v5/public/linear") as ws:
            await ws.send(json.dumps({"op": "ping"}))
            assert (await recv_json(ws))["ret_msg"] == "pong"


# ----------------------------------------------------------------------------- replay


BINANCE_CAPTURE = "binance/ws/spot_combined_depth_bookticker_kline_aggtrade.cryptofeed-2021.jsonl"
COINBASE_CAPTURE = "coinbase/ws/ws_feed_level2_ticker_matches.cryptofeed-2021.jsonl"


@pytest.mark.real_fixtures
async def test_replay_sends_the_capture_in_order() -> None:
    path = shared_fixture(BINANCE_CAPTURE)
    expected = list(capture_frames(path))
    async with (
        simulator(replay=(path,), replay_speed=1000.0, synthetic=False) as sim,
        connect(f"{sim.ws_base}/binance/stream?streams=nknusdt@bookTicker") as ws,
    ):
        async with asyncio.timeout(30):
            received = [await ws.recv() for _ in expected]
        assert received == expected
        assert sim.stats()["venues"]["binance"]["replay_frames_sent"] == len(expected)


@pytest.mark.real_fixtures
async def test_replay_filtered_to_subscriptions() -> None:
    path = shared_fixture(BINANCE_CAPTURE)
    wanted = [f for f in capture_frames(path) if json.loads(f)["stream"] == "nknusdt@bookTicker"]
    async with (
        simulator(replay=(path,), replay_filter=True, after_replay="close") as sim,
        connect(f"{sim.ws_base}/binance/stream?streams=nknusdt@bookTicker") as ws,
    ):
        received = await until_closed(ws, limit_s=30)
    assert received == wanted and wanted


@pytest.mark.real_fixtures
async def test_coinbase_replay_after_subscribe_then_close() -> None:
    path = shared_fixture(COINBASE_CAPTURE)
    expected = [f for f in capture_frames(path) if json.loads(f)["type"] != "subscriptions"]
    async with (
        simulator(replay=(path,), after_replay="close") as sim,
        connect(f"{sim.ws_base}/coinbase", max_size=None) as ws,
    ):
        await ws.send(
            json.dumps({"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["ticker"]})
        )
        frames = await until_closed(ws, limit_s=60)
    assert json.loads(frames[0])["type"] == "subscriptions"  # the simulator's own reply
    assert frames[1:] == expected


@pytest.mark.real_fixtures
async def test_replay_then_synthetic_frames() -> None:
    path = shared_fixture(BINANCE_CAPTURE)
    count = len(list(capture_frames(path)))
    async with (
        simulator(replay=(path,)) as sim,
        connect(f"{sim.ws_base}/binance/stream?streams=btcusdt@aggTrade") as ws,
    ):
        frames = await collect(
            ws,
            lambda fs: bool(fs) and fs[-1]["stream"] == "btcusdt@aggTrade",
            limit=count + 1,
            limit_s=30,
        )
    assert len(frames) == count + 1
