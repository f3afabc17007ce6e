"""`cross-exchange normalize --venue V PATH`: a JSONL capture -> exchange.raw records (JSONL).

Reads the fixtures' capture formats (PATH `-` is standard input): cryptofeed-style lines
{"ts","dir","url","frame"} (only `dir == "recv"` frames) and tardis-style lines {"frame", "src",
...}. Each frame goes through the venue's own parser, exactly as the live bridge does; output
lines carry the same fields as exchange.raw entries. Records are emitted for every instrument
the venue lists in the capture (`normalize_instruments`: recorded listing answers, an
`--instruments FILE`, or the venue's naming rule). A summary of emitted and rejected frames
goes to stderr; input with no line in the capture format is an error, not an empty result.
With `--books`, the venue's order books are replayed too (`normalize_books`): one `book` line
per applied update follows the records.
"""

from __future__ import annotations

import io
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import orjson

from microservices.common.clock import now_ms
from microservices.common.errors import FatalError
from microservices.common.raw_json import line_encoders, orjson_line
from microservices.data_collector import normalize_claims
from microservices.data_collector import normalize_parallel as parallel
from microservices.data_collector.capture_read import (
    CaptureLines,
    read_frames,
)
from microservices.data_collector.capture_scan import file_contains
from microservices.data_collector.exchanges import EXCHANGES
from microservices.data_collector.exchanges._lines import Line, LineBuilder
from microservices.data_collector.exchanges.base import Exchange, VenueParser
from microservices.data_collector.exchanges.typed import TypedParser
from microservices.data_collector.normalize_instruments import Source, follow_instruments

REST_MARK = b'"http"'  # in every recorded REST answer's line (`"dir": "http"`)
# records encoded per write: big enough that writes cost nothing, small enough to stream
CHUNK_RECORDS = 2048


def bytes_writer(out: IO[str]) -> parallel.Write:
    """Write encoded lines to the binary buffer under a text stream (sys.stdout) when there is
    one: the same bytes as writing the decoded text, without decoding and re-encoding them."""
    buffer = getattr(out, "buffer", None)
    if buffer is None:
        return lambda chunk: out.write(chunk.decode())
    out.flush()  # nothing written through the text layer may come after our bytes
    write: parallel.Write = buffer.write
    return write


def normalize_file(
    venue: str,
    path: str,
    out: IO[str],
    stats_to: IO[str] | None = None,
    stdin: IO[bytes] | None = None,
    instruments: str | None = None,
    book_depth: int | None = None,
) -> int:
    """Normalize the capture at `path` (`-`: `stdin`, by default the process's) to `out`;
    `instruments` is an optional listing file (used when the capture records no listing);
    `book_depth` not None also replays the books (that many levels per side, 0 = all).

    Raises FatalError for an unknown venue, a missing file, or input with no capture line."""
    if venue not in EXCHANGES:
        raise FatalError(f"unknown venue {venue!r}; known: {', '.join(sorted(EXCHANGES))}")
    exchange = EXCHANGES[venue]([], ws_url="", rest_url="")
    seen = CaptureLines()
    with _open_capture(path, stdin) as handle:
        # two passes: the listing first (it may come after the frames it lists); standard
        # input is read into memory for that, a file is read twice (three times with books)
        lines: Iterable[bytes] = handle.readlines() if path == "-" else handle
        write = bytes_writer(out)
        done = _in_parallel(venue, handle if lines is handle else None, instruments, write, seen)
        if done is None:
            recorded = lines if _may_record_rest(lines, handle) else ()
            source, listed = follow_instruments(exchange, recorded, instruments)
            parser = line_parser(exchange)
            frames = write_records(parser, read_frames(_again(lines, handle), seen), write)
        else:
            parser, frames, source, listed = done
        books = None
        if book_depth is not None:
            from microservices.data_collector.normalize_books import write_books

            books = write_books(venue, _again(lines, handle), write, book_depth)
    if hasattr(out, "buffer"):
        out.buffer.flush()
    if seen.capture_lines == 0:
        name = "standard input" if path == "-" else path
        raise FatalError(
            f'no line of {name} is in the capture format (JSON objects with a "frame" field,'
            f" one per line){'; it is empty' if seen.lines == 0 else ''}"
        )
    if stats_to is not None:
        summary = {"venue": venue, "frames": frames, "emitted": parser.stats.emitted,
                   "rejected": parser.stats.rejected,
                   "instruments": {"source": source, "listed": listed}}  # fmt: skip
        stats_to.write(
            orjson.dumps(summary | ({} if books is None else {"books": books})).decode() + "\n"
        )
    return 0


def _may_record_rest(lines: Iterable[bytes], handle: IO[bytes]) -> bool:
    """Whether a capture file may hold REST answers (`"dir": "http"` lines): one scan of the
    file for `"http"` (`capture_scan`; a capture without any skips the listing pass, and may
    take two processes); True for standard input and files that cannot be mapped."""
    if lines is not handle:
        return True
    return file_contains(handle.fileno(), REST_MARK) is not False


def _again(lines: Iterable[bytes], handle: IO[bytes]) -> Iterable[bytes]:
    """The capture lines for one more pass: a file is read again from its start."""
    if lines is handle:
        handle.seek(0)
    return lines


@contextmanager
def _open_capture(path: str, stdin: IO[bytes] | None) -> Iterator[IO[bytes]]:
    if path == "-":
        yield sys.stdin.buffer if stdin is None else stdin
        return
    source = Path(path)
    if not source.is_file():
        raise FatalError(f"no such capture file: {path}")
    with source.open("rb") as handle:
        yield handle


def _in_parallel(
    venue: str,
    handle: IO[bytes] | None,
    instruments: str | None,
    write: parallel.Write,
    seen: CaptureLines,
) -> tuple[VenueParser, int, Source, int] | None:
    """Every record on two processes (`normalize_parallel`) when the capture is a regular
    file big enough, the venue's parser allows it and the capture records no listing; else
    None, with nothing written. The scan for recorded REST answers (`_may_record_rest`) runs
    in the parent while the child already parses: a capture with any is left to the
    one-process path, which reads its listing first."""
    if handle is None or not parallel.big_enough(_file_size(handle)):
        return None
    exchange = EXCHANGES[venue]([], ws_url="", rest_url="")
    try:
        source, listed = follow_instruments(exchange, (), instruments)
    except FatalError:  # a bad --instruments file: the one-process path says so, if it matters
        return None
    parser = line_parser(exchange)
    if not normalize_claims.allows(parser):
        return None
    capture = handle
    done = parallel.write_parallel(
        parser, capture, write, now_ms(), lambda: not _may_record_rest(capture, capture)
    )
    if done is None:
        return None
    frames, (_, nonblank, captured) = done
    seen.lines += nonblank
    seen.capture_lines += captured
    return parser, frames, source, listed


def _file_size(handle: IO[bytes]) -> int:
    """The size of a regular file (0 for anything else: pipes, terminals)."""
    try:
        status = os.fstat(handle.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return 0
    return status.st_size if stat.S_ISREG(status.st_mode) else 0


def line_parser(exchange: Exchange) -> VenueParser:
    """The venue's parser, building JSON lines instead of records where its handlers build
    through `self.build` (`_lines.LineBuilder`)."""
    parser = exchange.new_parser()
    if isinstance(parser, TypedParser):
        parser.build = LineBuilder()
    return parser


def write_records(
    parser: VenueParser,
    frames: Iterable[tuple[str | bytes, int | None]],
    write: Callable[[bytes], object],
) -> int:
    """Parse every frame and write each record as one JSON line (exchange.raw fields), in
    chunks of CHUNK_RECORDS lines; returns the number of frames."""
    parse: Callable[[str | bytes, int], list[Any]] = parser.parse  # records or `Line`s
    get = line_encoders().get  # the hot types' f-string lines; others through orjson
    fallback_ms = now_ms()
    count = 0
    lines: list[str] = []
    for frame, ts_ms in frames:
        count += 1
        for record in parse(frame, ts_ms or fallback_ms):
            lines.append(
                record.text if type(record) is Line else get(record.type, orjson_line)(record)
            )
        if len(lines) >= CHUNK_RECORDS:
            write("".join(lines).encode())
            lines.clear()
    if lines:
        write("".join(lines).encode())
    return count
