"""`exchange.orderbook`: the top of one venue's L2 book of one instrument, with depth figures
computed over the whole book the collector keeps (SPEC section 3; issue 13).

One entry per venue and instrument at most every `ORDERBOOK_INTERVAL_MS` and only when the
book changed. Flat fields, as on the other streams (`redis-cli XREVRANGE` shows them):

    exchange market symbol venue_symbol group quote   the instrument (as on exchange.raw)
    timestamp received_at                              venue time / receive time, seconds
    sequence                                           the venue's update id ("" if none)
    best_bid best_bid_size best_ask best_ask_size      the top level of each side
    bid_levels ask_levels                              levels held in the full book
    bid_depth_10bps ask_depth_10bps                    notional (price x size, quote units) of
    bid_depth_50bps ask_depth_50bps                      the levels within 10 / 50 bps of mid
    bids asks                                          the top N levels, JSON [[price, size], ..]

Depth is in the instrument's quote (USDT, USD, BTC...), 12 significant digits; the aggregator
converts it to USD.
A one-sided book is not published (no mid). The same encoding, with every level, is the value
of the collector's full-book hash that the order-book API reads. Prices and sizes are written
as `repr` of the float (shortest round-trip text), so `bids`/`asks` decode to the same floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson

from microservices.common.clock import ms_to_seconds_str
from microservices.common.errors import SchemaError
from microservices.common.schema_fields import (
    SYMBOL_RE,
    encode_derived,
    encode_float,
    parse_float,
    parse_int,
    parse_ms,
    require,
)
from microservices.common.schemas import Fields, Schema

Level = tuple[float, float]
DEPTH_BANDS_BPS: Final = (10, 50)  # the depth figures every entry carries
# levels per side an entry may carry: the stream carries the top N (ORDERBOOK_LEVELS), the
# full-book hash (`collector_key(prefix, "books")`, read by the API) every level held
MAX_LEVELS: Final = 5_000


@dataclass(slots=True, kw_only=True)
class BookTop:
    """One `exchange.orderbook` entry."""

    exchange: str  # venue id
    market: str
    symbol: str  # canonical name
    venue_symbol: str
    group: str  # the followed symbol it is aggregated under
    quote: str
    ts_ms: int  # venue event time of the last applied update (receive time if none)
    recv_ms: int
    sequence: int | None  # the venue's update id after it; None where the venue has none
    bids: list[Level]  # best first
    asks: list[Level]
    bid_levels: int
    ask_levels: int
    bid_depth_10bps: float
    ask_depth_10bps: float
    bid_depth_50bps: float
    ask_depth_50bps: float

    @property
    def mid(self) -> float:
        return (self.bids[0][0] + self.asks[0][0]) / 2.0


def _levels_text(levels: list[Level]) -> str:
    return orjson.dumps(levels).decode()


def encode_book(top: BookTop) -> Fields:
    if not top.bids or not top.asks:
        raise SchemaError("a book entry needs both sides")
    (bid, bid_size), (ask, ask_size) = top.bids[0], top.asks[0]
    return {
        "exchange": top.exchange, "market": top.market, "symbol": top.symbol,
        "venue_symbol": top.venue_symbol, "group": top.group, "quote": top.quote,
        "timestamp": ms_to_seconds_str(top.ts_ms), "received_at": ms_to_seconds_str(top.recv_ms),
        "sequence": "" if top.sequence is None else str(top.sequence),
        "best_bid": encode_float(bid), "best_bid_size": encode_float(bid_size),
        "best_ask": encode_float(ask), "best_ask_size": encode_float(ask_size),
        "bid_levels": str(top.bid_levels), "ask_levels": str(top.ask_levels),
        "bid_depth_10bps": encode_derived(top.bid_depth_10bps),
        "ask_depth_10bps": encode_derived(top.ask_depth_10bps),
        "bid_depth_50bps": encode_derived(top.bid_depth_50bps),
        "ask_depth_50bps": encode_derived(top.ask_depth_50bps),
        "bids": _levels_text(top.bids), "asks": _levels_text(top.asks),
    }  # fmt: skip


def _parse_levels(name: str, text: str) -> list[Level]:
    """A JSON list of [price, size]: prices > 0, sizes > 0, finite, best first."""
    try:
        raw: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise SchemaError(f"field {name!r}: not JSON") from None
    if not isinstance(raw, list) or not raw or len(raw) > MAX_LEVELS:
        raise SchemaError(f"field {name!r}: 1 to {MAX_LEVELS} levels expected")
    levels: list[Level] = []
    for item in raw:
        if not isinstance(item, list) or len(item) != 2:
            raise SchemaError(f"field {name!r}: a level is [price, size]")
        price = parse_float(name, repr(item[0]), "price")
        size = parse_float(name, repr(item[1]), "pos")
        levels.append((price, size))
    prices = [p for p, _ in levels]
    ordered = sorted(prices, reverse=name == "bids")
    if prices != ordered or len(set(prices)) != len(prices):
        raise SchemaError(f"field {name!r}: levels not strictly best first")
    return levels


def decode_book(entry: dict[str, str]) -> BookTop:
    symbol = require(entry, "symbol")
    if not SYMBOL_RE.match(symbol):
        raise SchemaError(f"field 'symbol': not a symbol: {symbol[:40]!r}")
    bids = _parse_levels("bids", require(entry, "bids"))
    asks = _parse_levels("asks", require(entry, "asks"))
    if bids[0][0] >= asks[0][0]:
        raise SchemaError("crossed book: best bid >= best ask")
    sequence = entry.get("sequence", "")
    depth = {
        name: parse_float(name, require(entry, name), "qty")
        for name in ("bid_depth_10bps", "ask_depth_10bps", "bid_depth_50bps", "ask_depth_50bps")
    }
    return BookTop(
        exchange=require(entry, "exchange"), market=require(entry, "market"), symbol=symbol,
        venue_symbol=require(entry, "venue_symbol"), group=require(entry, "group"),
        quote=require(entry, "quote"),
        ts_ms=parse_ms("timestamp", require(entry, "timestamp")),
        recv_ms=parse_ms("received_at", require(entry, "received_at")),
        sequence=None if sequence == "" else parse_int("sequence", sequence),
        bids=bids, asks=asks,
        bid_levels=parse_int("bid_levels", require(entry, "bid_levels")),
        ask_levels=parse_int("ask_levels", require(entry, "ask_levels")),
        **depth,
    )  # fmt: skip


ORDERBOOK: Final[Schema[BookTop]] = Schema(encode_book, decode_book)


# ------------------------------------------------------------------ the full books
# The collector keeps every book whole in memory; the order-book API (engine process) reads
# them from one Redis hash, `collector_key(prefix, "books")`: field `<venue>:<group>` (the
# followed symbol, so Coinbase BTC-USD is `coinbase:BTCUSDT`), value the JSON object of the
# entry's fields with every level held. Refreshed every ORDERBOOK_FULL_INTERVAL_MS when the
# book changed; the hash expires FULL_BOOKS_TTL_S after the collector's last write.
FULL_BOOKS_TTL_S: Final = 15


def full_book_field(venue: str, group: str) -> str:
    return f"{venue}:{group}"


def encode_full_book(top: BookTop) -> bytes:
    return orjson.dumps(encode_book(top))


def decode_full_book(raw: bytes | str) -> BookTop:
    """A full-book hash value; SchemaError when it is not one."""
    try:
        fields: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise SchemaError("full book: not JSON") from None
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        raise SchemaError("full book: not an object of text fields")
    return decode_book(fields)
