"""Fast decoding of the hot `exchange.raw` entries (trade, ticker, kline) as Redis returns them
(`dict[bytes, bytes]`), for the aggregator's read path.

`decode_fast(entry)` returns a record only when it is sure the reference decoder
(`schemas.decode_raw`) would return the same record; for anything else (another type, str
keys, an extra or missing field, a value it does not recognise) it returns None or raises,
and the caller falls back to the reference decoder, which gives the canonical SchemaError.
Header fields are validated once per distinct (exchange, market, symbol, venue_symbol, group,
quote) and cached; records are built positionally (the head tuple first: the records'
declaration order), cheaper than keywords for msgspec Structs. Entries without
`group`/`quote` (older collectors) take the reference path.
Imports only records and schema_fields.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Final

from microservices.common.records import Kline, Market, RawRecord, Side, Ticker, Trade
from microservices.common.schema_fields import MAX_TS_MS, MIN_TS_MS

Head = tuple[str, Market, str, str, str, str]  # exchange market symbol venue_symbol group quote
HEAD_CACHE_MAX: Final = 4096
_MARKETS: Final[dict[bytes, Market]] = {b"spot": "spot", b"perp": "perp"}
_SIDES: Final[dict[bytes, Side]] = {b"buy": "buy", b"sell": "sell"}
_CLOSED: Final = {b"true": True, b"false": False, b"1": True, b"0": False}
_heads: dict[tuple[bytes, bytes, bytes, bytes, bytes, bytes], Head] = {}


def _is_symbol(text: bytes) -> bool:
    return 2 <= len(text) <= 30 and text.isalnum() and text.isascii() and text.upper() == text


def _is_venue(text: bytes) -> bool:
    rest = text[1:].replace(b"_", b"")
    return (
        2 <= len(text) <= 31
        and text.isascii()
        and text[:1].isalpha()
        and text.islower()
        and (rest == b"" or (rest.isalnum() and rest.lower() == rest))
    )


def _is_asset(text: bytes) -> bool:
    return 1 <= len(text) <= 20 and text.isalnum() and text.isascii() and text.upper() == text


def head(e: Mapping[bytes, bytes]) -> Head | None:
    key = (e[b"exchange"], e[b"market"], e[b"symbol"], e[b"venue_symbol"], e[b"group"],
           e[b"quote"])  # fmt: skip
    found = _heads.get(key)
    if found is not None:
        return found
    exchange, market, symbol, vsym, group, quote = key
    if not (
        _is_venue(exchange) and market in _MARKETS and _is_symbol(symbol) and vsym
        and _is_symbol(group) and _is_asset(quote)
    ):  # fmt: skip
        return None
    if len(_heads) >= HEAD_CACHE_MAX:
        _heads.clear()
    found = _heads[key] = (
        exchange.decode(), _MARKETS[market], symbol.decode(), vsym.decode(), group.decode(),
        quote.decode(),
    )  # fmt: skip
    return found


def ms(text: bytes) -> int:
    """Like schema_fields.parse_ms for well-formed ASCII; ValueError otherwise. The usual
    shape, 10 digits '.' 3 digits, is one int() of the 13 digits."""
    if len(text) == 14 and text[10] == 46:  # b"."
        digits = text[:10] + text[11:]
        if digits.isdigit():
            ts_ms = int(digits)
            if MIN_TS_MS <= ts_ms <= MAX_TS_MS:
                return ts_ms
            raise ValueError(text)
    seconds, _, frac = text.partition(b".")
    if not (seconds.isdigit() and (not frac or frac.isdigit())):
        raise ValueError(text)
    ts_ms = int(seconds) * 1000 + int((frac + b"000")[:3])
    if not MIN_TS_MS <= ts_ms <= MAX_TS_MS:
        raise ValueError(text)
    return ts_ms


def price(text: bytes) -> float:
    value = float(text)
    if not (0.0 < value < math.inf):
        raise ValueError(text)
    return value


def qty(text: bytes) -> float:
    value = float(text)
    if not (0.0 <= value < math.inf):
        raise ValueError(text)
    return value


def _trade(e: Mapping[bytes, bytes], h: Head) -> Trade | None:
    trade_id = e[b"trade_id"]
    if len(e) != 13 or not trade_id:
        return None
    return Trade(
        *h, ms(e[b"timestamp"]), ms(e[b"received_at"]), price(e[b"price"]), qty(e[b"size"]),
        _SIDES[e[b"side"]], trade_id.decode(),
    )  # fmt: skip


def _ticker(e: Mapping[bytes, bytes], h: Head) -> Ticker | None:
    last_text = e.get(b"last")
    if len(e) != (13 if last_text is None else 14):
        return None
    bid, ask = price(e[b"bid"]), price(e[b"ask"])
    if bid > ask:
        return None
    return Ticker(
        *h, ms(e[b"timestamp"]), ms(e[b"received_at"]), bid, qty(e[b"bid_size"]), ask,
        qty(e[b"ask_size"]), None if not last_text else price(last_text),
    )  # fmt: skip


def _kline(e: Mapping[bytes, bytes], h: Head) -> Kline | None:
    interval = e[b"interval"]
    if len(e) != 17 or not interval:
        return None
    o, hi, lo, c = price(e[b"open"]), price(e[b"high"]), price(e[b"low"]), price(e[b"close"])
    if not (lo <= o <= hi and lo <= c <= hi):
        return None
    return Kline(
        *h, ms(e[b"timestamp"]), ms(e[b"received_at"]), ms(e[b"open_time"]), interval.decode(),
        o, hi, lo, c, qty(e[b"volume"]), _CLOSED[e[b"closed"].lower()],
    )  # fmt: skip


DECODERS: Final[dict[bytes, Callable[[Mapping[bytes, bytes], Head], RawRecord | None]]] = {
    b"trade": _trade,
    b"ticker": _ticker,
    b"kline": _kline,
}
# What a fast decoder may raise on input it does not handle (the caller then falls back).
FALLBACK_ERRORS: Final = (KeyError, ValueError, TypeError, AttributeError, UnicodeDecodeError)


def decode_fast(entry: Mapping[Any, Any]) -> RawRecord | None:
    """The record, or None (or a FALLBACK_ERRORS exception) when the reference must decide."""
    decoder = DECODERS.get(entry.get(b"type", b""))
    if decoder is None:
        return None
    h = head(entry)
    return None if h is None else decoder(entry, h)
