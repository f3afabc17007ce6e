"""Subscriptions per connection in the venue health: streams, subscribe frames and the most
streams in one frame, counted from each wire format of a connection plan."""

from __future__ import annotations

import orjson

from microservices.data_collector.connections import subscriptions
from microservices.data_collector.exchanges.base import WsConnectionPlan
from microservices.data_collector.venue_status import VenueStatus


def plan(url: str, *frames: object) -> WsConnectionPlan:
    return WsConnectionPlan("v#0", url, tuple(orjson.dumps(f).decode() for f in frames), ())


def test_binance_streams_in_the_url() -> None:
    url = "ws://h/stream?streams=btcusdt@aggTrade/btcusdt@bookTicker/ethusdt@aggTrade"
    assert subscriptions(plan(url)) == (3, 0, 0)


def test_bybit_args_per_frame() -> None:
    frames = [{"op": "subscribe", "args": ["a"] * 10}, {"op": "subscribe", "args": ["b"] * 4}]
    assert subscriptions(plan("ws://h/v5/public/spot", *frames)) == (14, 2, 10)


def test_coinbase_products_times_channels() -> None:
    frame = {"type": "subscribe", "product_ids": ["BTC-USD", "ETH-USD"], "channels": ["t", "m"]}
    assert subscriptions(plan("ws://h", frame)) == (4, 1, 4)


def test_health_lists_them_per_connection() -> None:
    status = VenueStatus()
    status.register("bybit#0", "bybit", 30.0, (14, 2, 10))
    status.register("bybit#0", "bybit", 30.0, (20, 2, 10))  # a replaced plan, same label
    assert status.summary()["bybit"]["subscriptions"] == {"bybit#0": [20, 2, 10]}


def test_health_counts_as_rejected_neither_unfollowed_channels_nor_heartbeats() -> None:
    status = VenueStatus()
    status.register("deribit#0", "deribit", 30.0, (4, 2, 2))
    status.set_counts("deribit#0", 10, {"ignored": 5, "heartbeat": 2, "malformed": 1})
    venue = status.summary(now=1_700_000_000_000)["deribit"]
    assert venue["rejected"] == 1
    assert venue["rejected_by_reason"] == {"ignored": 5, "heartbeat": 2, "malformed": 1}


def test_rest_health_names_a_retry_after_window_and_open_circuits() -> None:
    from microservices.data_collector.rest_client import Circuit, RestClient

    now = [1_000.0]
    client = RestClient(None, clock=lambda: now[0])  # type: ignore[arg-type]
    assert client.venue_health("bybit") == {"blocked_s": 0.0, "open_circuits": 0}
    client.block("bybit", 12.34)
    client._circuits[("bybit", "/v5/market/kline")] = Circuit(failures=5, open_until=1_030.0)
    client._circuits[("bybit", "/v5/market/tickers")] = Circuit(failures=1, open_until=0.0)
    assert client.venue_health("bybit") == {"blocked_s": 12.3, "open_circuits": 1}
    now[0] = 1_031.0
    assert client.venue_health("bybit") == {"blocked_s": 0.0, "open_circuits": 0}


def test_a_retry_after_window_pauses_every_venue_on_the_same_rest_host() -> None:
    """Bybit linear and spot share api.bybit.com (one UrlVenue), OKX swaps and spot share
    www.okx.com: a 429 on one pauses both; Binance spot and USD-M are two hosts."""
    from microservices.data_collector.rest_client import RestClient, host_key

    now = [1_000.0]
    client = RestClient(None, clock=lambda: now[0])  # type: ignore[arg-type]
    client.block("bybit_spot", 30.0)
    client.block("okx", 5.0)
    client.block("binance_futures", 20.0)
    assert client.blocked_for("bybit") == client.blocked_for("bybit_spot") == 30.0
    assert client.blocked_for("okx_spot") == 5.0
    assert client.blocked_for("binance") == 0.0
    assert client.blocked_for("binance_futures") == 20.0
    client.block("bybit", 10.0)  # a shorter window never shortens the one in force
    assert client.blocked_for("bybit_spot") == 30.0
    assert host_key("kucoin") != host_key("kucoin_futures")
    assert host_key("not_registered") == "not_registered"
