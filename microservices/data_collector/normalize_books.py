"""`cross-exchange normalize --books`: replay a capture's order books, one JSON line per update.

The capture's depth frames (`dir == "recv"`) and REST answers (`dir == "http"`, such as the
Binance depth snapshots a book is synced from; see the fixtures' PROVENANCE.md) go, in file
order, through the venue's own book rules (`exchanges/<exchange>/book.py`, declared in its
VenueSpec), exactly as a live client sees them. After every applied update (snapshots included)
one `book` line gives the best levels, the level counts and the top N levels per side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

import orjson

from microservices.common.orderbook.book import OrderBook
from microservices.common.orderbook.sync import BookSpec, BookUpdate, Frame
from microservices.data_collector.exchanges import venue_specs

DEFAULT_BOOK_DEPTH: Final = 20  # levels per side in each book line
CHUNK_LINES: Final = 1024  # book lines encoded per write


def book_rules(venue: str) -> BookSpec | None:
    """The book rules `venue`'s package declares (its VenueSpec `books`), None without."""
    return venue_specs()[venue].books


def book_inputs(lines: Iterable[bytes]) -> Iterator[tuple[str, str, Frame, int | None]]:
    """(direction "recv" or "http", request url, frame, capture time in ms or None) of
    every received frame and REST answer of capture lines, in order."""
    for line in lines:
        if not line.strip():
            continue
        try:
            item: Any = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(item, dict) or item.get("frame") is None:
            continue
        direction = item.get("dir", "recv")
        if direction not in ("recv", "http"):
            continue
        frame = item["frame"]
        ts = item.get("ts")
        ts_ms = int(ts * 1000) if isinstance(ts, int | float) else None
        url = item.get("url")
        yield (direction, url if isinstance(url, str) else "",
               frame if isinstance(frame, str) else orjson.dumps(frame), ts_ms)  # fmt: skip


def book_line(
    venue: str, update: BookUpdate, book: OrderBook, depth: int, capture_ms: int | None
) -> dict[str, Any]:
    """One `book` line: the book of `update.symbol` right after `update`; `timestamp` is the
    venue's event time in ms, else the capture time of the line that caused it."""
    bid, ask = book.best_bid(), book.best_ask()
    return {
        "type": "book",
        "venue": venue,
        "venue_symbol": update.symbol,
        "sequence": update.sequence,
        "timestamp": update.ts_ms if update.ts_ms is not None else capture_ms,
        "snapshot": update.snapshot,
        "best_bid": None if bid is None else bid[0],
        "best_bid_size": None if bid is None else bid[1],
        "best_ask": None if ask is None else ask[0],
        "best_ask_size": None if ask is None else ask[1],
        "bid_levels": book.bid_levels,
        "ask_levels": book.ask_levels,
        "bids": book.bids(depth),
        "asks": book.asks(depth),
    }


class BookPrinter:
    """The `on_applied` hook of a replay: one encoded `book` line per applied update."""

    def __init__(self, venue: str, depth: int) -> None:
        self.venue = venue
        self.depth = depth
        self.capture_ms: int | None = None  # capture time of the line being replayed
        self.lines: list[bytes] = []

    def __call__(self, update: BookUpdate, book: OrderBook) -> None:
        line = book_line(self.venue, update, book, self.depth, self.capture_ms)
        self.lines.append(orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE))


def write_books(
    venue: str, lines: Iterable[bytes], write: Callable[[bytes], object], depth: int
) -> dict[str, Any]:
    """Replay the books of capture `lines` with `venue`'s rules, writing one JSON line per
    applied update (top `depth` levels per side, 0 = all); returns the sync counters
    (`{"rules": False}` for a venue without book rules)."""
    factory = book_rules(venue)
    if factory is None:
        return {"rules": False}
    printer = BookPrinter(venue, depth)
    sync = factory.new(printer)
    for direction, url, frame, capture_ms in book_inputs(lines):
        printer.capture_ms = capture_ms
        if direction == "http":
            sync.on_rest(url, frame)
        else:
            sync.on_frame(frame)
        if len(printer.lines) >= CHUNK_LINES:
            write(b"".join(printer.lines))
            printer.lines.clear()
    if printer.lines:
        write(b"".join(printer.lines))
    return {"rules": True, **sync.books.stats.as_dict()}
