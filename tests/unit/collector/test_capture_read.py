"""`read_block` (one msgspec call a block) gives exactly what `read_capture` (one orjson call
a line) gives, frames, capture times and line counts, or declines the block (None) and counts
nothing; worked lines show which blocks it takes and what each line yields."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microservices.data_collector import capture_read
from microservices.data_collector.capture_read import (
    CaptureLines,
    read_block,
    read_capture,
    ts_millis,
)

FRAME = '{"stream":"btcusdt@aggTrade","data":{"p":"0.3528"}}'


def reference(data: bytes) -> tuple[list[tuple[str | bytes, int | None]], CaptureLines]:
    seen = CaptureLines()
    return list(read_capture(data.splitlines(keepends=True), seen)), seen


def line(**fields: object) -> bytes:
    return orjson.dumps(fields) + b"\n"


def test_a_cryptofeed_block_is_read_in_one_call() -> None:
    data = (
        line(ts=1633998523.963, dir="open", url="wss://x", frame=None)
        + line(ts=1633998524.5, dir="send", url="wss://x", frame='{"method":"SUBSCRIBE"}')
        + line(ts=1633998525.25, dir="recv", url="wss://x", frame=FRAME)
        + b"\n   \n"
        + line(ts=None, frame=FRAME, src="tardis", year=None)
    )
    seen = CaptureLines()
    got = read_block(data, seen)
    assert got == [(FRAME, 1633998525250), (FRAME, None)]
    assert (seen.lines, seen.capture_lines) == (4, 3)  # the open line has no frame
    want, want_seen = reference(data)
    assert got == want and seen == want_seen


@pytest.mark.parametrize(
    "odd",
    [
        b"not json\n",  # the parser rejects it as a frame
        b"[1, 2]\n",  # JSON, but no capture object
        line(ts=1.0, frame={"stream": "x"}),  # an object frame: written back by orjson
        line(ts=1.0, frame=17),
        b'{"ts": 1e400, "frame": "x"}\n',  # not a finite number
    ],
)
def test_blocks_with_other_lines_are_declined(odd: bytes) -> None:
    seen = CaptureLines()
    assert read_block(line(ts=1.0, frame=FRAME) + odd, seen) is None
    assert seen == CaptureLines()  # nothing counted: the caller reads it line by line


@pytest.mark.parametrize(
    ("ts", "ms"),
    [(1.5, 1500), (17, 17000), (True, None), ("1.5", None), (None, None), ([1], None),
     (2**64 - 1, (2**64 - 1) * 1000), (2**70, int(float(2**70) * 1000))],
)  # fmt: skip
def test_capture_times_follow_orjson_numbers(ts: object, ms: int | None) -> None:
    data = f'{{"ts":{orjson.dumps(ts).decode() if ts != 2**70 else 2**70},"frame":"x"}}\n'
    assert ts_millis(orjson.loads(data)["ts"]) == ms  # orjson reads 2**70 as a float
    assert read_block(data.encode(), CaptureLines()) == [("x", ms)]
    assert reference(data.encode())[0] == [("x", ms)]


VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8),
)  # fmt: skip
LINES = st.one_of(
    st.fixed_dictionaries(
        {"frame": st.one_of(st.none(), st.text(max_size=20), st.just(FRAME))},
        optional={"ts": VALUES, "dir": st.sampled_from(["recv", "send", "http", None]),
                  "url": st.text(max_size=5)},
    ).map(lambda d: orjson.dumps(d) + b"\n"),
    st.sampled_from([b"\n", b"  \n", b"\r\n"]),
    st.just(b"{}\n"),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(LINES, max_size=12), st.sampled_from([b"", b"\n", b"junk\n", b"[]\n"]))
def test_any_block_reads_as_line_by_line(lines: list[bytes], tail: bytes) -> None:
    data = b"".join(lines) + tail
    seen = CaptureLines()
    got = read_block(data, seen)
    want, want_seen = reference(data)
    if got is None:
        assert seen == CaptureLines()
        assert tail in (b"junk\n", b"[]\n")  # declined only for a line it cannot take
    else:
        assert (got, seen) == (want, want_seen)


def test_times_beyond_a_float_are_none_or_declined() -> None:
    assert ts_millis(1.7e308) is None  # its milliseconds overflow: no capture time
    assert reference(b'{"ts":1.7e308,"frame":"x"}\n')[0] == [("x", None)]
    huge = b'{"ts":1' + b"0" * 400 + b',"frame":"x"}\n'  # orjson refuses it: a raw line
    assert reference(huge)[0] == [(huge, None)]
    assert read_block(huge, CaptureLines()) is None


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(LINES, st.just(b"junk\n")), max_size=40), st.integers(1, 5))
def test_read_frames_reads_any_lines_as_line_by_line(lines: list[bytes], block_lines: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(capture_read, "BLOCK_LINES", block_lines)
        seen = CaptureLines()
        got = list(capture_read.read_frames(lines, seen))
    assert (got, seen) == reference(b"".join(lines))
