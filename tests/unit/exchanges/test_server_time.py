"""Each venue's server-time answer (`<exchange>/server_time.py`), parsed from the documented
examples (tests/fixtures/exchanges/<venue>/rest_time.json) into epoch ms, and refused when
malformed."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from microservices.common.errors import BadMessage
from microservices.data_collector import exchanges
from microservices.data_collector.exchanges.binance.server_time import (
    parse_server_time as binance_time,
)
from microservices.data_collector.exchanges.bybit.server_time import (
    parse_server_time as bybit_time,
)
from microservices.data_collector.exchanges.coinbase.server_time import (
    parse_server_time as coinbase_time,
)
from microservices.data_collector.exchanges.package import ServerTime
from tests.fixture_paths import local_fixture

# venue -> (path, fixture, epoch ms): the documented examples
DOCUMENTED = {
    "binance": ("/api/v3/time", "binance/rest_time.json", 1_499_827_319_559.0),
    "binance_futures": ("/fapi/v1/time", "binance_futures/rest_time.json", 1_499_827_319_559.0),
    # timeNano 1688639403423213947 ns, to whole microseconds
    "bybit": ("/v5/market/time", "bybit/rest_time.json", 1_688_639_403_423.213),
    "bybit_spot": ("/v5/market/time", "bybit/rest_time.json", 1_688_639_403_423.213),
    # epoch 1420674445.201 s
    "coinbase": ("/time", "coinbase/rest_time.json", 1_420_674_445_201.0),
    # Gate.io docs: GET /spot/time -> {"server_time": 1597026383085} (futures host too)
    "gateio": ("/spot/time", "gateio/rest_time.json", 1_597_026_383_085.0),
    "gateio_futures": ("/spot/time", "gateio/rest_time.json", 1_597_026_383_085.0),
    # KuCoin docs: {"code": "200000", "data": 1546837113087} on spot and futures hosts
    "kucoin": ("/api/v1/timestamp", "kucoin/rest_time.json", 1_546_837_113_087.0),
    "kucoin_futures": ("/api/v1/timestamp", "kucoin/rest_time.json", 1_546_837_113_087.0),
    "bitget": ("/api/v2/public/time", "bitget/rest_time.json", 1_688_008_631_614.0),
    "bitget_spot": ("/api/v2/public/time", "bitget/rest_time.json", 1_688_008_631_614.0),
    # OKX docs: GET /api/v5/public/time -> {"code": "0", "data": [{"ts": "<ms>"}]} (both)
    "okx": ("/api/v5/public/time", "okx/rest_time.json", 1_700_000_000_123.0),
    "okx_spot": ("/api/v5/public/time", "okx/rest_time.json", 1_700_000_000_123.0),
    # Deribit docs: public/get_time -> {"jsonrpc": "2.0", "id": 7365, "result": 1550147385946}
    "deribit": ("/api/v2/public/get_time", "deribit/rest_time.json", 1_550_147_385_946.0),
}


def spec_of(venue: str) -> ServerTime:
    spec = exchanges.venue_specs()[venue].server_time
    assert spec is not None, f"{venue} declares no server_time"
    return spec


def test_every_simulated_venue_declares_its_server_time() -> None:
    simulated = [
        v for v, s in exchanges.venue_specs().items() if s.url_venue in exchanges.simulators()
    ]
    assert sorted(DOCUMENTED) == sorted(simulated)


@pytest.mark.parametrize("venue", sorted(DOCUMENTED))
def test_documented_answer_parses_to_epoch_ms(venue: str) -> None:
    path, fixture, expected = DOCUMENTED[venue]
    spec = spec_of(venue)
    payload = orjson.loads(local_fixture(f"exchanges/{fixture}").read_bytes())
    assert spec.request().path == path
    assert spec.request().params == {}
    assert spec.parse(payload) == pytest.approx(expected, abs=1e-3)


def test_bybit_falls_back_to_the_envelope_time_then_seconds() -> None:
    envelope: dict[str, Any] = {"retCode": 0, "retMsg": "OK", "result": {}, "time": 1688639403423}
    assert bybit_time(envelope) == 1_688_639_403_423.0
    seconds = {"retCode": 0, "result": {"timeSecond": "1688639403", "timeNano": ""}}
    assert bybit_time(seconds) == 1_688_639_403_000.0


def test_coinbase_falls_back_to_iso() -> None:
    assert coinbase_time({"iso": "2015-01-07T23:47:25.201Z"}) == 1_420_674_445_201.0


@pytest.mark.parametrize(
    ("parse", "payload"),
    [
        (binance_time, {}),
        (binance_time, {"serverTime": "1499827319559"}),  # a string, not the documented int
        (binance_time, {"serverTime": True}),
        (binance_time, {"serverTime": 1499827319.559}),
        (binance_time, {"serverTime": 1}),  # 1970: out of range
        (binance_time, [1499827319559]),
        (bybit_time, {"retCode": 10001, "retMsg": "params error", "result": {}}),
        (bybit_time, {"retCode": 0, "result": {"timeNano": "16886394O3423213947"}}),
        (bybit_time, {"retCode": 0, "result": {"timeNano": 1688639403423213947}}),
        (bybit_time, {"retCode": 0, "result": {}}),
        (bybit_time, {"retCode": 0, "result": {"timeSecond": "soon"}}),
        (bybit_time, "OK"),
        (coinbase_time, {"epoch": "1420674445.201"}),
        (coinbase_time, {"epoch": float("nan")}),
        (coinbase_time, {"epoch": 1420674445201}),  # ms where seconds are due: year 46990
        (coinbase_time, {"iso": "yesterday"}),
        (coinbase_time, {"iso": 1420674445}),
        (coinbase_time, {}),
        (coinbase_time, None),
    ],
)
def test_malformed_answers_are_bad_messages(parse: Any, payload: Any) -> None:
    with pytest.raises(BadMessage):
        parse(payload)
