"""exchange.orderbook entries: flat fields that round-trip, and entries no consumer may read."""

from __future__ import annotations

import pytest

from microservices.common.book_schema import (
    ORDERBOOK,
    BookTop,
    decode_full_book,
    encode_full_book,
    full_book_field,
)
from microservices.common.errors import SchemaError


def top(**changes: object) -> BookTop:
    fields: dict[str, object] = {
        "exchange": "binance", "market": "spot", "symbol": "NKNUSDT",
        "venue_symbol": "NKNUSDT", "group": "NKNUSDT", "quote": "USDT",
        "ts_ms": 1_633_998_512_345, "recv_ms": 1_633_998_512_400, "sequence": 499_869_752,
        "bids": [(0.4195, 1200.0), (0.4194, 50.5)], "asks": [(0.4197, 310.0)],
        "bid_levels": 1000, "ask_levels": 998, "bid_depth_10bps": 503.4,
        "ask_depth_10bps": 130.107, "bid_depth_50bps": 9_876.5, "ask_depth_50bps": 8_000.25,
    }  # fmt: skip
    fields.update(changes)
    return BookTop(**fields)  # type: ignore[arg-type]


def test_fields_as_redis_cli_shows_them_and_back() -> None:
    encoded = ORDERBOOK.encode(top())
    assert encoded["timestamp"] == "1633998512.345" and encoded["sequence"] == "499869752"
    assert encoded["best_bid"] == "0.4195" and encoded["best_ask_size"] == "310.0"
    assert encoded["bids"] == "[[0.4195,1200.0],[0.4194,50.5]]"
    assert ORDERBOOK.decode(encoded) == top()
    assert top().mid == pytest.approx(0.4196)


def test_a_venue_without_sequence_numbers() -> None:
    encoded = ORDERBOOK.encode(top(exchange="coinbase", sequence=None))
    assert encoded["sequence"] == "" and ORDERBOOK.decode(encoded).sequence is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("bids", "[[0.4194,1.0],[0.4195,1.0]]", "not strictly best first"),
        ("asks", "[[0.4197,1.0],[0.4197,2.0]]", "not strictly best first"),
        ("bids", "[[0.4198,1.0]]", "crossed"),
        ("bids", "[]", "1 to 5000 levels"),
        ("bids", "[[0.4195,0.0]]", "must be > 0"),
        ("asks", '[[0.4197,"NaN"]]', "not"),
        ("asks", "[[0.4197]]", "a level is"),
        ("bid_depth_10bps", "-1", ">= 0"),
        ("symbol", "no spaces", "not a symbol"),
    ],
)
def test_entries_no_consumer_may_read(field: str, value: str, message: str) -> None:
    encoded = ORDERBOOK.encode(top())
    with pytest.raises(SchemaError, match=message):
        ORDERBOOK.decode(encoded | {field: value})


def test_a_one_sided_book_is_not_published() -> None:
    with pytest.raises(SchemaError, match="both sides"):
        ORDERBOOK.encode(top(asks=[]))


def test_full_book_hash_values_round_trip() -> None:
    book = top(bids=[(0.4195 - k * 0.0001, 10.0 + k) for k in range(1_500)])
    assert decode_full_book(encode_full_book(book)) == book
    assert full_book_field("coinbase", "BTCUSDT") == "coinbase:BTCUSDT"
    for bad in (b"{", b"[1]", b'{"bids": 1}'):
        with pytest.raises(SchemaError):
            decode_full_book(bad)
