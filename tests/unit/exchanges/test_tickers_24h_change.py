"""The 24 h price change each venue's all-tickers answer gives, in percent (the market layer's
`price_change_24h`), from hand-written rows in each venue's documented shape."""

from __future__ import annotations

from typing import Any

import pytest

from microservices.data_collector.exchanges import EXCHANGES

ROWS: dict[str, tuple[Any, float | None]] = {
    # OKX: no change field; (last / open24h - 1) x 100 = (101 / 100 - 1) x 100
    "okx_spot": ({"code": "0", "data": [{"instId": "BTC-USDT", "instType": "SPOT", "last": "101",
                                         "open24h": "100", "volCcy24h": "5000"}]}, 1.0),
    # Gate.io: change_percentage is already in percent
    "gateio": ([{"currency_pair": "BTC_USDT", "last": "100", "quote_volume": "10",
                 "change_percentage": "-2.5"}], -2.5),
    # KuCoin: changeRate is a fraction
    "kucoin": ({"code": "200000", "data": {"ticker": [{"symbol": "BTC-USDT", "last": "100",
                                                       "volValue": "10", "changeRate": "0.0123"}]}},
               1.23),
    # Bitget: change24h is a fraction
    "bitget_spot": ({"code": "00000", "data": [{"symbol": "BTCUSDT", "lastPr": "100",
                                                "quoteVolume": "10", "change24h": "-0.004"}]},
                    -0.4),
}  # fmt: skip


@pytest.mark.parametrize("venue", sorted(ROWS))
def test_the_24h_change_is_in_percent(venue: str) -> None:
    payload, expected = ROWS[venue]
    exchange = EXCHANGES[venue]([], ws_url="", rest_url="")
    [row] = exchange.parse_tickers_24h(payload)
    assert row.price_change_pct == pytest.approx(expected)
    assert row.last is not None and row.quote_volume is not None
