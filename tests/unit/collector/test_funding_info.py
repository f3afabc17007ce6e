"""ExchangeDataCollector.refresh_funding_info: per-symbol funding intervals from the venues
that publish them apart from their funding data (Binance USDⓈ-M /fapi/v1/fundingInfo)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from microservices.common.errors import TransientError
from microservices.data_collector.exchange_data_collector import ExchangeDataCollector
from microservices.data_collector.exchanges.base import Exchange, RestRequest
from microservices.data_collector.exchanges.binance.futures import BinanceFutures
from microservices.data_collector.exchanges.bybit.exchange import Bybit

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


class ScriptedClient:
    """Answers get_json from a list (a value is returned, an exception raised)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[str, str]] = []

    async def get_json(self, exchange: Exchange, request: RestRequest) -> Any:
        self.requests.append((exchange.name, request.path))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def collector(client: ScriptedClient) -> tuple[ExchangeDataCollector, BinanceFutures]:
    binance = BinanceFutures(SYMBOLS, "wss://fstream.example", "https://fapi.example")
    bybit = Bybit(SYMBOLS, "wss://stream.example", "https://api.example")
    exchanges: dict[str, Exchange] = {"binance_futures": binance, "bybit": bybit}
    return ExchangeDataCollector(exchanges, client), binance  # type: ignore[arg-type]


async def test_intervals_are_fetched_from_venues_that_publish_them() -> None:
    client = ScriptedClient([{"symbol": "SOLUSDT", "fundingIntervalHours": 4}])
    rest, binance = collector(client)
    await rest.refresh_funding_info()
    assert client.requests == [("binance_futures", "/fapi/v1/fundingInfo")]  # Bybit: in tickers
    assert binance.funding_interval_h("SOLUSDT") == 4.0
    assert binance.funding_interval_h("BTCUSDT") == 8.0


@pytest.mark.parametrize(
    "fault", [TransientError("503 from binance_futures"), {"code": -1003, "msg": "banned"}]
)
async def test_a_failed_refresh_keeps_the_known_intervals(
    fault: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = ScriptedClient([{"symbol": "SOLUSDT", "fundingIntervalHours": 4}], fault)
    rest, binance = collector(client)
    await rest.refresh_funding_info()
    with caplog.at_level(logging.WARNING):
        await rest.refresh_funding_info()
    assert binance.funding_interval_h("SOLUSDT") == 4.0
    [warning] = [r for r in caplog.records if r.getMessage() == "rest.funding_info_failed"]
    assert warning.exchange == "binance_futures"  # type: ignore[attr-defined]
