"""Property tests: listing parsers and naming rules never raise, and every row of a list is
either kept or counted as skipped."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from microservices.common.instruments import ParsedListing
from microservices.data_collector.exchanges.binance import listing as _binance_listing
from microservices.data_collector.exchanges.bybit import listing as _bybit_listing
from microservices.data_collector.exchanges.coinbase import listing as _coinbase_listing
from tests.fixture_paths import local_fixture

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


def _rows(name: str, key: str | None) -> list[dict[str, Any]]:
    body = orjson.loads(local_fixture(name).read_bytes())
    rows: list[dict[str, Any]] = body if key is None else body[key]
    return rows


SPOT_ROWS = _rows("exchanges/binance/rest_exchangeInfo.json", "symbols")
FUTURES_ROWS = _rows("exchanges/binance_futures/rest_exchangeInfo.json", "symbols")
COINBASE_ROWS = _rows("exchanges/coinbase/rest_products.json", None)
BYBIT_ROWS = orjson.loads(
    local_fixture("exchanges/bybit/rest_instruments_linear.page1.json").read_bytes()
)["result"]["list"]


def _bybit(rows: object) -> ParsedListing:
    body = {"retCode": 0, "result": {"category": "linear", "list": rows, "nextPageCursor": ""}}
    return _bybit_listing.parse_instruments_page(body, "bybit")[0]


PARSERS: dict[str, tuple[Callable[[object], ParsedListing], Callable[[object], ParsedListing]]] = {
    # name: (parser of a whole body, parser of a list of rows)
    "binance": (_binance_listing.parse_spot_listing, lambda rows: _binance_listing.parse_spot_listing({"symbols": rows})),
    "binance_futures": (_binance_listing.parse_futures_listing,
                        lambda rows: _binance_listing.parse_futures_listing({"symbols": rows})),
    "bybit": (lambda body: _bybit_listing.parse_instruments_page(body, "bybit")[0], _bybit),
    "coinbase": (_coinbase_listing.parse_products, _coinbase_listing.parse_products),
}  # fmt: skip
SAMPLES = {
    "binance": SPOT_ROWS,
    "binance_futures": FUTURES_ROWS,
    "bybit": BYBIT_ROWS,
    "coinbase": COINBASE_ROWS,
}


@settings(max_examples=150, deadline=None)
@given(body=JSON | st.binary(max_size=64))
def test_any_body_never_raises(body: object) -> None:
    for parse_body, _ in PARSERS.values():
        result = parse_body(body)
        assert isinstance(result, ParsedListing)


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(JSON, max_size=6))
def test_every_row_is_kept_or_counted(rows: list[Any]) -> None:
    for _, parse_rows in PARSERS.values():
        result = parse_rows(rows)
        assert len(result.instruments) + sum(result.skipped.values()) == len(rows)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), venue=st.sampled_from(sorted(SAMPLES)), value=JSON)
def test_mutated_real_rows_are_kept_or_counted(data: st.DataObject, venue: str, value: Any) -> None:
    """Replace one field of a well-formed row by any JSON value: the row is kept (if the value
    happens to be acceptable) or counted, and the other rows are unaffected."""
    rows = copy.deepcopy(SAMPLES[venue])
    target = data.draw(st.sampled_from(rows))
    target[data.draw(st.sampled_from(sorted(target)))] = value
    parse = PARSERS[venue][1]
    result = parse(rows)
    assert len(result.instruments) + sum(result.skipped.values()) == len(rows)
    assert len(result.instruments) >= len(parse(SAMPLES[venue]).instruments) - 1


@settings(max_examples=300, deadline=None)
@given(
    symbol=st.text(max_size=24) | st.from_regex(r"[A-Z0-9]{1,8}(-|_)?[A-Z0-9]{0,8}", fullmatch=True)
)
def test_naming_rules_never_raise(symbol: str) -> None:
    for rule, venue in ((_binance_listing.symbol_instrument, "binance"),
                        (_binance_listing.symbol_instrument, "binance_futures"),
                        (_bybit_listing.symbol_instrument, "bybit"),
                        (_bybit_listing.symbol_instrument, "bybit_spot"),
                        (_coinbase_listing.symbol_instrument, "coinbase")):  # fmt: skip
        found = rule(symbol, venue)
        assert found is None or (found.venue_symbol == symbol and found.symbol)
