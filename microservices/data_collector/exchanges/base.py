"""The small interface every venue module implements, and pure helpers for parsers.

A venue module owns its wire: URLs and paths, subscribe and ping messages, field names and
unit conversion. Parsing is pure: `VenueParser.parse(frame, recv_ms)` returns records (or
`[]`) for every input and never raises; rejected frames are counted in `ParseStats` with a
short sample for the log. The parser also decides which frames prove the feed alive (see
`VenueParser.parse_with_liveness`). Venues build their parser on the typed skeleton in
`typed.py`. No I/O here: the WS bridge and REST collector do the talking.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from microservices.common.catalog import Catalog
from microservices.common.errors import BadMessage
from microservices.common.records import AnyRaw, Funding, Kline, Market, OpenInterest
from microservices.common.schema_fields import MAX_TS_MS, MIN_TS_MS
from microservices.data_collector.exchanges.venue_symbols import VenueSymbols

SAMPLE_CHARS = 300
# Reject reasons of frames that do not prove the market feed alive: control frames (subscribe
# acks, pongs, venue errors), frames of channels we did not subscribe ("ignored"), and frames
# not understood. Any other frame is market data or a heartbeat, even when it yields no record
# (a duplicate trade, an unfollowed symbol, a delta that changed nothing): the feed is alive.
CONTROL_REASONS: Final = frozenset(
    {"ignored", "venue_error", "subscribe_failed", "malformed", "unknown_event", "unknown_topic"}
)
# Reasons of frames a healthy feed sends all the time (channels not followed, the venue's own
# heartbeats): counted, never sampled into the log as rejections.
QUIET_REASONS: Final = frozenset({"ignored", "heartbeat"})


@dataclass(frozen=True, slots=True)
class WsConnectionPlan:
    """One WebSocket connection: where to connect and what to send once it is open."""

    label: str  # e.g. "binance#0", used in logs and metrics
    url: str
    subscribe: tuple[str, ...]  # text frames sent right after the handshake
    symbols: tuple[str, ...]  # canonical symbols served by this connection


@dataclass(frozen=True, slots=True)
class RestRequest:
    path: str  # appended to the venue's REST base URL
    params: dict[str, str]
    weight: int = 1  # the venue's request weight, for rate-limit accounting


@dataclass(slots=True)
class ParseStats:
    """Counters of what a parser emitted and rejected, with one recent sample per reason."""

    emitted: dict[str, int] = field(default_factory=dict)  # record type -> count
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> count
    samples: dict[str, str] = field(default_factory=dict)  # reason -> truncated frame
    control_reasons: frozenset[str] = CONTROL_REASONS
    control: int = 0  # frames rejected for a reason in `control_reasons`

    def reject(self, reason: str, frame: str | bytes | Any) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        if reason in self.control_reasons:
            self.control += 1
        text = frame if isinstance(frame, str) else repr(frame)
        self.samples[reason] = text[:SAMPLE_CHARS]

    def emit(self, records: list[AnyRaw]) -> list[AnyRaw]:
        for record in records:
            self.emitted[record.type] = self.emitted.get(record.type, 0) + 1
        return records


# what a parser catches per frame and REST row: bad values, wrong shapes or types
# (orjson.JSONDecodeError is a ValueError; OverflowError: int() of an infinite JSON number)
PARSE_ERRORS: Final = (
    BadMessage, KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError,
)  # fmt: skip


class Dropped(BadMessage):
    """A frame dropped on purpose, counted under `reason` rather than "malformed"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def text_trade_id(value: Any) -> str:
    """A trade id sent as a JSON string or integer (Bybit, Coinbase), as text."""
    if type(value) not in (str, int) or value == "":
        raise BadMessage(f"bad trade id {value!r}")
    return str(value)


# ----------------------------------------------------------------- value parsing helpers
# They raise BadMessage; a parser catches it (with KeyError/TypeError/ValueError) per frame.


def price(value: Any) -> float:
    """A price: finite and > 0 (accepts JSON strings or numbers, not booleans)."""
    if value is True or value is False:
        raise BadMessage(f"bad price {value!r}")
    number = float(value)
    if not (math.isfinite(number) and number > 0.0):
        raise BadMessage(f"bad price {value!r}")
    return number


def qty(value: Any) -> float:
    """A size or volume: finite and >= 0 (not a boolean)."""
    if value is True or value is False:
        raise BadMessage(f"bad quantity {value!r}")
    number = float(value)
    if not (math.isfinite(number) and number >= 0.0):
        raise BadMessage(f"bad quantity {value!r}")
    return number


def rate(value: Any) -> float:
    """A funding rate: finite with |x| < 1 (not a boolean)."""
    if value is True or value is False:
        raise BadMessage(f"bad rate {value!r}")
    number = float(value)
    if not (math.isfinite(number) and abs(number) < 1.0):
        raise BadMessage(f"bad rate {value!r}")
    return number


def epoch_ms(value: Any) -> int:
    """An epoch-ms timestamp (int or numeric string) within 2009..2100."""
    number = int(value)
    if not MIN_TS_MS <= number <= MAX_TS_MS:
        raise BadMessage(f"bad timestamp {value!r}")
    return number


def check_quote(bid: float, ask: float) -> None:
    if bid > ask:
        raise BadMessage(f"crossed quote bid {bid} > ask {ask}")


def check_ohlc(o: float, h: float, low: float, c: float) -> None:
    if not (low <= o <= h and low <= c <= h):
        raise BadMessage(f"inconsistent candle o={o} h={h} l={low} c={c}")


def minute_bar(
    head: Mapping[str, Any], recv_ms: int, open_ms: int, ohlcv: Sequence[Any], closed: bool
) -> Kline:
    """A 1m bar of a REST candle row: `ohlcv` = open, high, low, close, volume as sent
    (numbers or numeric strings), checked like a WebSocket kline; `ts_ms` is the open time."""
    o, h, low, c = price(ohlcv[0]), price(ohlcv[1]), price(ohlcv[2]), price(ohlcv[3])
    check_ohlc(o, h, low, c)
    return Kline(head["exchange"], head["market"], head["symbol"], head["venue_symbol"],
                 head["group"], head["quote"], open_ms, recv_ms, open_ms, "1m", o, h, low, c,
                 qty(ohlcv[4]), closed)  # fmt: skip


# --------------------------------------------------------------------------- interfaces


class VenueParser(ABC):
    """Per-connection parser; may keep state (ticker deltas, dedupe, candle building)."""

    # reject reasons that say nothing about the feed being alive (a venue may add its own)
    control_reasons: ClassVar[frozenset[str]] = CONTROL_REASONS

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.stats = ParseStats(control_reasons=self.control_reasons)
        # frames the venue requires in answer to one it sent (Deribit: `public/test` for a
        # `test_request`); the WS bridge sends them after the frame and clears the list
        self.outbox: list[str] = []

    @abstractmethod
    def parse(self, frame: str | bytes, recv_ms: int) -> list[AnyRaw]:
        """Records carried by one frame; `[]` for acks, pongs and anything rejected."""

    def parse_with_liveness(self, frame: str | bytes, recv_ms: int) -> tuple[list[AnyRaw], bool]:
        """`parse()` plus whether the frame proves the market feed alive: it carried records,
        or it was market data or a heartbeat that yielded none. Pings, pongs, subscribe acks,
        errors, unsubscribed channels and garbage never do (`control_reasons`); the WS bridge
        resets its silence timer only on live frames."""
        stats = self.stats
        control = stats.control
        records = self.parse(frame, recv_ms)
        return records, bool(records) or stats.control == control


class Exchange(VenueSymbols, ABC):
    """One venue: its endpoints, subscriptions and pure parsers; its symbols and instruments
    through the catalog (`VenueSymbols`)."""

    name: ClassVar[str]
    market: ClassVar[Market]
    # app-level ping (text) and its period; None when the venue uses protocol pings only
    ping_interval_s: ClassVar[float | None] = None
    # a subscribed channel that keeps flowing while nothing trades (candle updates, mark price,
    # level-1 book, heartbeat), so a connection of illiquid symbols never looks silent
    always_flowing: ClassVar[str] = ""
    max_streams_per_connection: ClassVar[int] = 200
    # proactive reconnect before a server-side lifetime limit (Binance: 24 h); None = never
    max_connection_age_s: ClassVar[float | None] = None
    rest_weight_per_minute: ClassVar[int] = 1200
    kline_page_limit: ClassVar[int] = 500
    funding_page_limit: ClassVar[int] = 100
    oi_page_limit: ClassVar[int] = 100
    oi_period_ms: ClassVar[int] = 300_000
    # how far back the venue serves open-interest history (None = no documented limit)
    oi_history_max_age_ms: ClassVar[int | None] = None
    # a symbol's L2 book subscription, spelled like the venue's other streams (a stream
    # suffix, a topic, a channel): subscribed too while `books` is set (ORDERBOOK_ENABLED)
    book_stream: ClassVar[str] = ""
    # funding interval of a symbol the venue has not said otherwise about (perps)
    default_funding_interval_h: ClassVar[float] = 8.0
    # a substring of the frame the venue greets a new connection with (KuCoin "welcome"):
    # the subscribe frames wait for it; "" = subscribe right after the handshake
    ws_welcome: ClassVar[str] = ""

    def __init__(
        self, symbols: Sequence[str], ws_url: str, rest_url: str, catalog: Catalog | None = None
    ) -> None:
        # followed symbols the venue lists; without a catalog, named by its naming rule
        self._init_symbols(symbols, catalog)
        self.ws_url = ws_url.rstrip("/")
        self.rest_url = rest_url.rstrip("/")
        # canonical symbol -> funding interval (h), as the venue last reported it (Bybit in its
        # tickers, Binance USD-M in /fapi/v1/fundingInfo); shared by the parsers and REST code
        self.funding_intervals: dict[str, float] = {}
        self.books = False  # subscribe `book_stream` too
        # seconds left in the REST client's Retry-After window for this venue (the collector
        # sets it): a venue whose WebSocket URL comes from a REST call (KuCoin) waits it out
        self.rest_blocked_for: Callable[[], float] = lambda: 0.0

    def with_books(self, streams: tuple[str, ...]) -> tuple[str, ...]:
        """A symbol's streams, plus its book stream while books are followed."""
        return (*streams, self.book_stream) if self.books and self.book_stream else streams

    def book_resubscribe(self, venue_symbol: str) -> tuple[str, ...]:
        """Frames that make the venue send a fresh book snapshot of `venue_symbol` on the open
        connection (unsubscribe, subscribe); () where books are synced from REST."""
        return ()

    def funding_interval_h(self, symbol: str) -> float:
        return self.funding_intervals.get(symbol, self.default_funding_interval_h)

    # --- WebSocket
    @abstractmethod
    def ws_connections(self) -> list[WsConnectionPlan]: ...

    def ping_message(self) -> str | None:
        return None

    async def resolve_ws_url(self, plan: WsConnectionPlan) -> str:
        """The URL to open for `plan` now: `plan.url` unless the venue hands out its WebSocket
        endpoint per connection (KuCoin's token from bullet-public). Called before every
        connect; raises an OSError (ConnectionError) when the venue gives none."""
        return plan.url

    @abstractmethod
    def new_parser(self) -> VenueParser: ...

    # --- REST: requests return None when the venue lacks the data (e.g. spot funding)
    @abstractmethod
    def klines_request(self, symbol: str, start_ms: int, end_ms: int) -> RestRequest: ...

    @abstractmethod
    def parse_klines(self, symbol: str, payload: Any, recv_ms: int) -> list[Kline]: ...

    def funding_history_request(
        self, symbol: str, start_ms: int, end_ms: int
    ) -> RestRequest | None:
        return None

    def parse_funding_history(self, symbol: str, payload: Any, recv_ms: int) -> list[Funding]:
        return []

    def open_interest_history_request(
        self, symbol: str, start_ms: int, end_ms: int
    ) -> RestRequest | None:
        return None

    def parse_open_interest_history(
        self, symbol: str, payload: Any, recv_ms: int
    ) -> list[OpenInterest]:
        return []

    def current_funding_request(self, symbol: str) -> RestRequest | None:
        return None

    def parse_current_funding(self, symbol: str, payload: Any, recv_ms: int) -> list[Funding]:
        return []

    def current_open_interest_request(self, symbol: str) -> RestRequest | None:
        return None

    def parse_current_open_interest(
        self, symbol: str, payload: Any, recv_ms: int
    ) -> list[OpenInterest]:
        return []

    def funding_info_request(self) -> RestRequest | None:
        """Venue-wide funding reference data (per-symbol intervals); None when the venue's
        frames carry the interval themselves or it has no funding."""
        return None

    def apply_funding_info(self, payload: Any) -> dict[str, float]:
        """Replace `funding_intervals` from the answer to `funding_info_request`; returns the
        symbols whose interval differs from the default. BadMessage on a malformed answer."""
        return {}

    def check_rest_payload(self, payload: Any) -> None:
        """Raise BadMessage when a 200 response carries a venue-level error (Bybit retCode)."""
        return None
