"""Coinbase Exchange ws-feed wire model: the `ticker`, `match`/`last_match` and `heartbeat`
messages as msgspec Structs tagged by `type`, and their decoder.

Only the fields a handler reads are declared; others are skipped. Times are ISO-8601 texts
(converted by the parser). Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from microservices.data_collector.exchanges.typed import Price, Size, Wire, decoder


class TickerMessage(Wire, tag_field="type", tag="ticker"):
    product_id: str
    time: str  # ISO-8601, e.g. 2023-11-14T22:13:20.123456Z
    best_bid: Price | None = None
    best_ask: Price | None = None
    price: Price | None = None  # last trade price
    best_bid_size: Size | None = None  # absent before 2022
    best_ask_size: Size | None = None


class MatchMessage(Wire, tag_field="type", tag="match"):
    product_id: str
    trade_id: Any  # an integer, consecutive per product (a non-empty string is accepted)
    time: str
    price: Price
    size: Size
    side: Literal["buy", "sell"]  # the MAKER's side


class LastMatchMessage(MatchMessage, tag="last_match"):
    """The last trade before we subscribed, sent once per product."""


class HeartbeatMessage(Wire, tag_field="type", tag="heartbeat"):
    product_id: str
    sequence: Any  # a JSON integer


Message = TickerMessage | MatchMessage | LastMatchMessage | HeartbeatMessage
decode_message: Final = decoder(Message)
