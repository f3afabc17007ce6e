"""Reading capture lines: the received frames of a JSONL capture, and how many lines it had.

The fixtures' capture formats are one JSON object a line: cryptofeed-style {"ts", "dir",
"url", "frame"} (only `dir == "recv"` frames are received ones) and tardis-style {"frame",
"src", ...}. `read_capture` reads any lines, one at a time: a line that is not JSON is passed
on as the frame itself (the venue's parser rejects it), a JSON object without a frame is
counted and skipped. `read_block` reads a block of whole lines in one msgspec call
(`decode_lines`, ~0.3 us a line less than one orjson call each) when every line of the block
is a capture object whose frame is text or absent, the common case; for any other block it
answers None and the caller reads the block line by line, so both give the same frames.
`read_frames` reads any lines that way, a block of lines at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import orjson

# numbers orjson reads as int; a bigger JSON integer it reads as a float (msgspec: as int)
_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**64 - 1
_INF: Final = float("inf")
_FLOAT_S: Final = 1e300  # seconds whose milliseconds a float holds

Frame = tuple[str | bytes, int | None]  # (frame, capture time in ms or None)


@dataclass(slots=True)
class CaptureLines:
    """What a capture held: non-blank lines, and those in the capture format."""

    lines: int = 0
    capture_lines: int = 0  # JSON objects with a "frame", whatever their direction


def ts_millis(ts: Any) -> int | None:
    """A line's capture time (epoch seconds, a JSON number) in ms; None when it is not one,
    or when its milliseconds overflow a float. An integer orjson would read as a float is
    taken as that float (OverflowError when even that overflows: orjson refuses it)."""
    if type(ts) is float:
        ms = ts * 1000
        return int(ms) if -_INF < ms < _INF else None
    if type(ts) is int:
        return ts * 1000 if _INT_MIN <= ts <= _INT_MAX else ts_millis(float(ts))
    return None


def read_capture(lines: Iterable[bytes], seen: CaptureLines | None = None) -> Iterator[Frame]:
    """(frame, capture time in ms or None) for every received frame of capture lines; counts
    the lines into `seen`."""
    counts = CaptureLines() if seen is None else seen
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    nonblank = captured = 0  # counted here, stored once at the end (they cost per line)
    try:
        for line in lines:
            try:
                item: Any = loads(line)
            except decode_error:
                if line and not line.isspace():
                    nonblank += 1
                    yield line, None  # not a capture line: let the parser reject it
                continue
            nonblank += 1
            if type(item) is not dict or (frame := item.get("frame")) is None:
                continue
            captured += 1
            if item.get("dir", "recv") != "recv":
                continue
            yield (frame if type(frame) is str else orjson.dumps(frame)), ts_millis(item.get("ts"))
    finally:
        counts.lines += nonblank
        counts.capture_lines += captured


class _Line(msgspec.Struct, gc=False):
    """A capture line as `read_block` reads it: other fields are skipped."""

    frame: Any = None
    ts: Any = None
    dir: Any = "recv"


_DECODE_LINES: Final = msgspec.json.Decoder(_Line).decode_lines


def read_block(data: bytes, seen: CaptureLines) -> list[Frame] | None:
    """The received frames of a block of whole lines, as `read_capture` gives them, with the
    lines counted into `seen`; None (nothing counted) unless every non-blank line is a JSON
    object whose frame is a string or absent."""
    try:
        items = _DECODE_LINES(data)
    except msgspec.DecodeError:  # a line is not JSON or not an object: line by line
        return None
    out: list[Frame] = []
    append = out.append
    captured = 0
    try:
        for item in items:
            frame = item.frame
            if frame is None:
                continue
            if type(frame) is not str:
                return None  # an object frame is written back by orjson: line by line
            captured += 1
            if item.dir == "recv":
                ts = item.ts  # the usual capture time, a float in range, read inline
                ok = type(ts) is float and -_FLOAT_S < ts < _FLOAT_S
                append((frame, int(ts * 1000) if ok else ts_millis(ts)))
    except OverflowError:  # an integer time orjson refuses: line by line
        return None
    seen.lines += len(items)
    seen.capture_lines += captured
    return out


BLOCK_LINES: Final = 1024  # lines `read_frames` hands to `read_block` at a time


def read_frames(lines: Iterable[bytes], seen: CaptureLines) -> Iterator[Frame]:
    """`read_capture`'s frames and counts, read BLOCK_LINES lines at a time by `read_block`
    (a block it declines line by line)."""
    group: list[bytes] = []
    for line in lines:
        group.append(line)
        if len(group) == BLOCK_LINES:
            yield from _read_group(group, seen)
            group = []
    yield from _read_group(group, seen)


def _read_group(group: list[bytes], seen: CaptureLines) -> list[Frame] | Iterator[Frame]:
    # joined with newlines: a line's own newline only adds a blank line, which both skip
    block = read_block(b"\n".join(group), seen)
    return read_capture(group, seen) if block is None else block


def capture_frames(path: Any) -> Iterator[Frame]:
    """(frame, capture time in ms or None) for every received frame of a capture file."""
    with open(path, "rb") as handle:
        yield from read_capture(handle)
