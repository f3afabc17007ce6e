"""Replaying trade-id dedupe in order, for `normalize` on two processes (`normalize_parallel`).

Only parsers listed in DEDUPE_ONLY are split over processes: their one state carried from
frame to frame is their trade-id dedupers (the `_heads` cache is a memo, counts are summed
per block). In both processes those dedupers are swapped for `Claims`, which answers "not
seen" and records every (deduper, symbol, id) asked; the parent then asks the real dedupers
the same questions in the same order, block by block (`settle`). A frame whose claim they
answer "seen" is one the plain parser drops as "duplicate" with no record (the claim is the
last check of those handlers), so its lines are cut out and the counts moved from emitted to
rejected. The per-block `ParseStats` are merged in block order.
"""

from __future__ import annotations

from typing import Final

import orjson

from microservices.data_collector.exchanges.base import ParseStats, VenueParser
from microservices.data_collector.exchanges.binance.parser import (
    BinanceFuturesParser,
    BinanceParser,
)
from microservices.data_collector.exchanges.dedupe import TradeDeduper

# parser class -> its dedupers (attribute names): its only state carried between frames
DEDUPE_ONLY: Final[dict[type[VenueParser], tuple[str, ...]]] = {
    BinanceParser: ("_agg_ids", "_trade_ids"),
    BinanceFuturesParser: ("_agg_ids", "_trade_ids"),
}
# (deduper index, symbol, trade id, first line of the frame's records, their count)
Span = tuple[int, str, str, int, int]
Counts = tuple[int, int, int]  # frames, non-blank lines, capture lines
Block = tuple[bytes | bytearray, list[Span], dict[str, int], dict[str, int], Counts]


class Claims:
    """Stands in for a TradeDeduper: every id is new; each question is recorded."""

    __slots__ = ("asked", "index")

    def __init__(self, index: int, asked: list[tuple[int, str, str]]) -> None:
        self.index = index
        self.asked = asked

    def seen(self, symbol: str, trade_id: str) -> bool:
        self.asked.append((self.index, symbol, trade_id))
        return False


def allows(parser: VenueParser) -> bool:
    """Whether the parser's only state between frames is its dedupers (DEDUPE_ONLY)."""
    return type(parser) in DEDUPE_ONLY


def settle(
    block: Block, dedupers: list[TradeDeduper], stats: ParseStats
) -> tuple[bytes | bytearray, int]:
    """Ask the real dedupers the block's claims in order, cut the duplicates' lines, merge
    the block's counts into `stats`; (the block's output, its frame count)."""
    text, spans, emitted, rejected, counts = block
    dropped = [span for span in spans if dedupers[span[0]].seen(span[1], span[2])]
    if dropped:
        text = _cut(text, dropped, emitted)
        rejected["duplicate"] = rejected.get("duplicate", 0) + len(dropped)
    for kind, count in emitted.items():
        if count:
            stats.emitted[kind] = stats.emitted.get(kind, 0) + count
    for reason, count in rejected.items():
        stats.rejected[reason] = stats.rejected.get(reason, 0) + count
    return text, counts[0]


def _cut(text: bytes | bytearray, dropped: list[Span], emitted: dict[str, int]) -> bytes:
    """The block's lines without the dropped frames' records (uncounted from `emitted`)."""
    lines = bytes(text).split(b"\n")  # record lines hold no raw newline: JSON escapes it
    gone: set[int] = set()
    for *_, first, count in dropped:
        for index in range(first, first + count):
            gone.add(index)
            kind = orjson.loads(lines[index])["type"]
            emitted[kind] -= 1
    return b"\n".join(line for i, line in enumerate(lines) if i not in gone)
