"""`normalize` on two cores: blocks of a capture file parsed and encoded by two processes.

The capture (a regular file, mapped) is cut at line ends into blocks of BLOCK_BYTES. The
parent and a forked child claim blocks from a pipe of tickets (each read takes one index, so
a process slowed by other work simply takes fewer); the child sends each block's encoded
lines back, and the parent writes every block in index order, so the output is the
single-process output byte for byte. Only parsers whose one state carried from frame to
frame is their trade-id dedupers run this way; `normalize_claims` replays those dedupers'
questions in block order in the parent, so duplicates are dropped exactly as one process
drops them."""

from __future__ import annotations

import contextlib
import fcntl
import io
import marshal
import mmap
import os
import select
import signal
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, Final

from microservices.common.raw_json import LineEncoder, line_encoders, orjson_line
from microservices.data_collector.capture_read import CaptureLines, read_block, read_capture
from microservices.data_collector.exchanges._lines import Line
from microservices.data_collector.exchanges.base import ParseStats, VenueParser
from microservices.data_collector.exchanges.dedupe import TradeDeduper
from microservices.data_collector.normalize_claims import (
    DEDUPE_ONLY,
    Block,
    Claims,
    Counts,
    Span,
    settle,
)

BLOCK_BYTES = 1 << 19  # capture bytes per block: ~1,500 frames of a Binance mix
PIPE_BYTES = 1 << 20  # the pipe's buffer (Linux's default limit for a user): ~2 blocks
MIN_BYTES = 8 << 20  # smaller captures: one process (a fork and its copies cost ~10 ms)
MAX_BLOCKS: Final = 8000  # blocks grow past BLOCK_BYTES so their tickets fit a pipe (64 KiB)
MAX_PENDING: Final = 8  # blocks the parent holds unwritten before it waits for the child
_SIZE: Final = struct.Struct("<q")
_TICKET: Final = struct.Struct("<I")
Write = Callable[[bytes | bytearray], object]  # a binary stream's write
Sink = tuple[list[TradeDeduper], ParseStats, Write]


def big_enough(size: int) -> bool:
    """Whether a capture of `size` bytes is worth two processes, and there are two cores."""
    return size >= MIN_BYTES and hasattr(os, "fork") and _cores() >= 2


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def blocks(mapped: mmap.mmap, block_bytes: int) -> list[tuple[int, int]]:
    """(start, end) of consecutive blocks of whole lines covering the mapped file."""
    out, start, size = [], 0, len(mapped)
    while start < size:
        cut = mapped.find(b"\n", min(start + block_bytes, size) - 1)
        end = size if cut < 0 else cut + 1
        out.append((start, end))
        start = end
    return out


def encode_block(
    parser: VenueParser,
    data: bytes,
    fallback_ms: int,
    asked: list[tuple[int, str, str]],
    encoders: dict[str, LineEncoder] | None = None,
) -> Block:
    """Parse and encode one block's lines (the parser's dedupers replaced by Claims on
    `asked`): its lines' text, the claims' spans, emitted and rejected counts, line counts."""
    parser.stats = ParseStats(control_reasons=parser.stats.control_reasons)
    seen = CaptureLines()
    get = (encoders or line_encoders()).get
    parse: Callable[[str | bytes, int], list[Any]] = parser.parse  # records or `Line`s
    out: list[str] = []
    append = out.append
    spans: list[Span] = []
    frames = 0
    block = read_block(data, seen)
    for frame, ts_ms in read_capture(io.BytesIO(data), seen) if block is None else block:
        frames += 1
        records = parse(frame, ts_ms or fallback_ms)
        if asked:
            for claim in asked:
                spans.append((*claim, len(out), len(records)))
            asked.clear()
        for record in records:
            append(record.text if type(record) is Line else get(record.type, orjson_line)(record))
    stats = parser.stats
    counts = (frames, seen.lines, seen.capture_lines)
    return "".join(out).encode(), spans, stats.emitted, stats.rejected, counts


@dataclass(slots=True)
class Job:
    """What both processes share: the parser (dedupers swapped for Claims), the mapped
    capture, its blocks, the fallback time and the ticket pipe blocks are claimed from."""

    parser: VenueParser
    mapped: mmap.mmap
    spans: list[tuple[int, int]]
    fallback_ms: int
    asked: list[tuple[int, str, str]]
    tickets: int  # read end of a pipe holding every block index once
    encoders: dict[str, LineEncoder] = field(default_factory=line_encoders)

    def claim(self) -> int | None:
        """The next unclaimed block (one atomic pipe read), None when all are claimed."""
        data = os.read(self.tickets, _TICKET.size)
        return _TICKET.unpack(data)[0] if len(data) == _TICKET.size else None

    def encode(self, index: int) -> Block:
        start, end = self.spans[index]
        data = self.mapped[start:end]
        return encode_block(self.parser, data, self.fallback_ms, self.asked, self.encoders)


def write_parallel(
    parser: VenueParser,
    handle: IO[bytes],
    write: Write,
    fallback_ms: int,
    go_on: Callable[[], bool] = lambda: True,
) -> tuple[int, Counts] | None:
    """Normalize the capture file open as `handle` on two processes; (frames, line counts).
    The parent asks `go_on()` once the child works: False stops the child and
    returns None before anything is written."""
    names = DEDUPE_ONLY[type(parser)]
    dedupers: list[TradeDeduper] = [getattr(parser, name) for name in names]
    asked: list[tuple[int, str, str]] = []
    for index, name in enumerate(names):
        setattr(parser, name, Claims(index, asked))
    stats = parser.stats
    try:
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            spans = blocks(mapped, max(BLOCK_BYTES, len(mapped) // MAX_BLOCKS + 1))
            job = Job(parser, mapped, spans, fallback_ms, asked, _tickets(len(spans)))
            try:
                return _fork(job, (dedupers, stats, write), go_on)
            finally:
                os.close(job.tickets)
    finally:
        parser.stats = stats
        for name, deduper in zip(names, dedupers, strict=True):
            setattr(parser, name, deduper)


def _tickets(count: int) -> int:
    """A pipe holding the block indices 0..count-1 (write end closed): its read end."""
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"".join(_TICKET.pack(i) for i in range(count)))  # < the pipe's 64 KiB
    os.close(write_fd)
    return read_fd


def _fork(job: Job, sink: Sink, go_on: Callable[[], bool]) -> tuple[int, Counts] | None:
    read_fd, write_fd = os.pipe()
    with contextlib.suppress(OSError):  # room for blocks: the child works ahead
        fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's coverage is not collected
        os.close(read_fd)
        _child(job, write_fd)
    os.close(write_fd)
    reaped = False
    try:
        if not go_on():
            os.kill(child, signal.SIGKILL)
            return None
        done = _parent(job, read_fd, sink)
        reaped = True
        if os.waitpid(child, 0)[1] != 0:  # it failed after the parent needed it: say why
            _receive(read_fd)  # raises with its traceback, or for its early end
            raise RuntimeError("normalize worker failed")
        return done
    finally:
        os.close(read_fd)
        if not reaped:
            os.waitpid(child, 0)


def _parent(job: Job, read_fd: int, sink: Sink) -> tuple[int, Counts]:
    """Claim and encode blocks, take the child's as they come, write every block in order."""
    dedupers, stats, write = sink
    pending: dict[int, Block] = {}
    frames = lines = captured = 0
    following, claiming = 0, True
    while following < len(job.spans):
        block = pending.pop(following, None)
        if block is not None:
            text, count = settle(block, dedupers, stats)
            if text:
                write(text)
            counts = block[4]
            frames, lines, captured = frames + count, lines + counts[1], captured + counts[2]
            following += 1
            continue
        if claiming and len(pending) < MAX_PENDING and not _ready(read_fd):
            index = job.claim()
            if index is not None:
                pending[index] = job.encode(index)
                continue
            claiming = False  # all claimed: the rest comes from the child
        index, block = _receive(read_fd)
        pending[index] = block
    return frames, (frames, lines, captured)


def _ready(read_fd: int) -> bool:
    """Whether the child has sent something (taken first, so it never waits on the pipe)."""
    return bool(select.select([read_fd], [], [], 0)[0])


def _child(job: Job, write_fd: int) -> None:
    """The forked child: claim, encode and send blocks until none is left; never returns."""
    status = 1
    pipe = os.fdopen(write_fd, "wb")
    try:
        while (index := job.claim()) is not None:
            text, *rest = job.encode(index)
            _send(pipe, ("ok", (index, len(text), *rest)), text)
            pipe.flush()
        status = 0
    except BaseException:  # reported to the parent, which raises it
        import traceback

        with contextlib.suppress(OSError):
            _send(pipe, ("error", traceback.format_exc()))
            pipe.flush()
    finally:
        os._exit(status)


def _send(pipe: IO[bytes], message: tuple[str, Any], text: bytes | bytearray = b"") -> None:
    """A marshalled header (its size first), then the block's text as it is (no copy)."""
    header = marshal.dumps(message)
    pipe.write(_SIZE.pack(len(header)))
    pipe.write(header)
    pipe.write(text)


def _receive(read_fd: int) -> tuple[int, Block]:
    """The child's next (block index, block); RuntimeError for its error or its end."""
    size = _SIZE.unpack(_read_exactly(read_fd, _SIZE.size))[0]
    kind, payload = marshal.loads(_read_exactly(read_fd, size))
    if kind != "ok":
        raise RuntimeError(f"normalize worker failed:\n{payload}")
    index, length, spans, emitted, rejected, counts = payload
    return index, (_read_exactly(read_fd, length), spans, emitted, rejected, counts)


def _read_exactly(fd: int, size: int) -> bytearray:
    """`size` bytes read into one buffer; RuntimeError when the pipe ends before."""
    data = bytearray(size)
    view, got = memoryview(data), 0
    while got < size:
        count = os.readv(fd, [view[got:]])
        if not count:
            raise RuntimeError("normalize worker ended before sending its blocks")
        got += count
    return data
