"""`normalize` on two processes writes the bytes the one-process path writes, counts the same
frames, records and rejections (duplicate trades across blocks and processes included), and
says so when its worker fails; only parsers whose one cross-frame state is their dedupers
take that path."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import orjson
import pytest

from microservices.data_collector import normalize, normalize_claims, normalize_parallel
from microservices.data_collector.exchanges import EXCHANGES
from microservices.data_collector.exchanges.base import Exchange
from tests.fixture_paths import local_fixture

BINANCE_VENUES = ["binance", "binance_futures"]


def capture(venue: str, tmp_path: Path, copies: int) -> Path:
    """The venue's repo frames, `copies` times over (so every trade id comes back later)."""
    files = sorted(local_fixture(f"exchanges/{venue}").glob("ws_*.jsonl"))
    assert files, venue
    path = tmp_path / f"{venue}.jsonl"
    path.write_bytes(b"".join(f.read_bytes() for f in files) * copies + b"not json\n\n")
    return path


def run(venue: str, path: Path) -> tuple[bytes, dict[str, object]]:
    raw, stats = io.BytesIO(), io.StringIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
    normalize.normalize_file(venue, str(path), out, stats_to=stats)
    out.flush()
    return raw.getvalue(), orjson.loads(stats.getvalue())


def plain(
    venue: str, path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[bytes, dict[str, object]]:
    with monkeypatch.context() as patch:
        patch.setattr(normalize_parallel, "MIN_BYTES", 1 << 62)
        return run(venue, path)


def counting_forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    forks: list[int] = []
    fork = os.fork

    def counted_fork() -> int:
        forks.append(1)
        return fork()

    monkeypatch.setattr(os, "fork", counted_fork)
    return forks


@pytest.mark.parametrize("venue", BINANCE_VENUES)
@pytest.mark.parametrize("block_bytes", [1, 300, 4096])
def test_two_processes_write_the_one_process_bytes(
    venue: str, block_bytes: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = capture(venue, tmp_path, copies=3)
    want, want_summary = plain(venue, path, monkeypatch)
    rejected = want_summary["rejected"]
    assert isinstance(rejected, dict) and rejected["duplicate"] > 0  # the copies' trades
    monkeypatch.setattr(normalize_parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(normalize_parallel, "BLOCK_BYTES", block_bytes)
    forks = counting_forks(monkeypatch)
    got, summary = run(venue, path)
    assert forks == [1]  # the parallel path ran
    assert got == want
    assert summary == want_summary


def test_blocks_cover_the_file_at_line_ends(tmp_path: Path) -> None:
    import mmap

    path = tmp_path / "c.jsonl"
    path.write_bytes(b"a\nbb\n\nccc\nd")
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as m:
        assert normalize_parallel.blocks(m, 1) == [(0, 2), (2, 5), (5, 6), (6, 10), (10, 11)]
        assert normalize_parallel.blocks(m, 4) == [(0, 5), (5, 10), (10, 11)]
        assert normalize_parallel.blocks(m, 100) == [(0, 11)]


@pytest.mark.parametrize("fails_in", ["claim", "encode"])
def test_a_failing_worker_is_an_error(
    fails_in: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether the parent needed one of the child's blocks or did them all, the child's
    error comes out (with its traceback) instead of a silent success."""
    path = capture("binance_futures", tmp_path, copies=2)
    monkeypatch.setattr(normalize_parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(normalize_parallel, "BLOCK_BYTES", 500)
    parent, original = os.getpid(), getattr(normalize_parallel.Job, fails_in)

    def failing_in_child(self: normalize_parallel.Job, *args: int) -> object:
        if os.getpid() != parent:
            raise ValueError("boom")
        if fails_in == "encode":  # let the child claim blocks before the parent does
            time.sleep(0.001)
        return original(self, *args)

    monkeypatch.setattr(normalize_parallel.Job, fails_in, failing_in_child)
    with pytest.raises(RuntimeError, match="ValueError: boom"):
        run("binance_futures", path)


def exchange(venue: str) -> Exchange:
    return EXCHANGES[venue]([], ws_url="", rest_url="")


def test_only_dedupe_only_parsers_are_allowed() -> None:
    assert normalize_claims.allows(exchange("binance_futures").new_parser())
    assert normalize_claims.allows(exchange("binance").new_parser())
    assert not normalize_claims.allows(exchange("bybit").new_parser())
    assert not normalize_parallel.big_enough(normalize_parallel.MIN_BYTES - 1)


def test_a_capture_recording_a_listing_goes_to_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listing may come after the frames it names: the child's blocks, parsed by the
    naming rule, are dropped, and the one-process path reads the listing first."""
    path = tmp_path / "capture.jsonl"
    listing = local_fixture("exchanges/binance/capture_with_listing.jsonl").read_bytes()
    path.write_bytes(capture("binance", tmp_path, copies=2).read_bytes() + listing)
    want, want_summary = plain("binance", path, monkeypatch)
    assert want_summary["instruments"] == {"source": "capture", "listed": 7}
    monkeypatch.setattr(normalize_parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(normalize_parallel, "BLOCK_BYTES", 200)
    forks = counting_forks(monkeypatch)
    got, summary = run("binance", path)
    assert forks == [1]  # tried, then left to one process
    assert (got, summary) == (want, want_summary)


@pytest.mark.parametrize("venue", BINANCE_VENUES)
def test_binance_parsers_keep_no_other_state(venue: str) -> None:
    """DEDUPE_ONLY says these parsers carry nothing else from frame to frame: a new
    attribute means a new state, and that claim must be checked again (`build` is the record
    builder: `_records` has no state, and a `LineBuilder`'s caches only memoise texts)."""
    parser = exchange(venue).new_parser()
    assert set(vars(parser)) == {"exchange", "stats", "outbox", "_heads", "_decode",
                                 "_handlers", "_agg_ids", "_trade_ids", "_events",
                                 "build"}  # fmt: skip
    assert normalize_claims.DEDUPE_ONLY[type(parser)] == ("_agg_ids", "_trade_ids")
