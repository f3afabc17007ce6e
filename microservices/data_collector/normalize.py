"""`cross-exchange normalize --venue V PATH`: a JSONL capture -> exchange.raw records (JSONL).

Reads the fixtures' capture formats: cryptofeed-style lines {"ts","dir","url","frame"} (only
`dir == "recv"` frames) and tardis-style lines {"frame", "src", ...}. Each frame goes through
the venue's own parser, exactly as the live bridge does; output lines carry the same fields as
exchange.raw entries. A summary of emitted and rejected frames goes to stderr.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from microservices.common.clock import now_ms
from microservices.common.errors import FatalError
from microservices.common.schemas import encode_raw
from microservices.common.symbols import CANONICAL_SYMBOLS
from microservices.data_collector.exchanges import EXCHANGES
from microservices.data_collector.exchanges.base import VenueParser


def capture_frames(path: Path) -> Iterator[tuple[str | bytes, int | None]]:
    """(frame, capture time in ms or None) for every received frame of a capture file."""
    with path.open("rb") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                item: Any = orjson.loads(line)
            except orjson.JSONDecodeError:
                yield line, None  # not a capture line: let the parser reject it
                continue
            if not isinstance(item, dict) or item.get("frame") is None:
                continue
            if item.get("dir", "recv") != "recv":
                continue
            frame = item["frame"]
            ts = item.get("ts")
            ts_ms = int(ts * 1000) if isinstance(ts, int | float) else None
            yield (frame if isinstance(frame, str) else orjson.dumps(frame)), ts_ms


# records encoded per write: big enough that writes cost nothing, small enough to stream
CHUNK_RECORDS = 2048


def bytes_writer(out: IO[str]) -> Callable[[bytes], object]:
    """Write encoded lines to the binary buffer under a text stream (sys.stdout) when there is
    one: the same bytes as writing the decoded text, without decoding and re-encoding them."""
    buffer = getattr(out, "buffer", None)
    if buffer is None:
        return lambda chunk: out.write(chunk.decode())
    out.flush()  # nothing written through the text layer may come after our bytes
    write: Callable[[bytes], object] = buffer.write
    return write


def normalize_file(venue: str, path: str, out: IO[str], stats_to: IO[str] | None = None) -> int:
    if venue not in EXCHANGES:
        raise FatalError(f"unknown venue {venue!r}; known: {', '.join(sorted(EXCHANGES))}")
    source = Path(path)
    if not source.is_file():
        raise FatalError(f"no such capture file: {path}")
    exchange = EXCHANGES[venue](sorted(CANONICAL_SYMBOLS), ws_url="", rest_url="")
    parser = exchange.new_parser()
    frames = write_records(parser, capture_frames(source), bytes_writer(out))
    if hasattr(out, "buffer"):
        out.buffer.flush()
    if stats_to is not None:
        summary = {
            "venue": venue, "frames": frames, "emitted": parser.stats.emitted,
            "rejected": parser.stats.rejected,
        }  # fmt: skip
        stats_to.write(orjson.dumps(summary).decode() + "\n")
    return 0


def write_records(
    parser: VenueParser,
    frames: Iterable[tuple[str | bytes, int | None]],
    write: Callable[[bytes], object],
) -> int:
    """Parse every frame and write each record as one JSON line (exchange.raw fields), in
    chunks of CHUNK_RECORDS lines; returns the number of frames."""
    parse, dumps, newline = parser.parse, orjson.dumps, orjson.OPT_APPEND_NEWLINE
    fallback_ms = now_ms()
    count = 0
    lines: list[bytes] = []
    for frame, ts_ms in frames:
        count += 1
        for record in parse(frame, ts_ms or fallback_ms):
            lines.append(dumps(encode_raw(record), option=newline))
        if len(lines) >= CHUNK_RECORDS:
            write(b"".join(lines))
            lines.clear()
    if lines:
        write(b"".join(lines))
    return count
