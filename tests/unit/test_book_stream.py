"""benchmarks.book_stream: the long depth stream both book benchmarks replay.

Checks the update-id chain, that cycle 0 is the capture as recorded, that an independent
replay by Binance's rules never sees a crossed book or more than `depth` levels and ends in the
builder's summary, determinism, and a hand-worked crossing/capping case.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.book_stream import (
    CAPTURE,
    SNAPSHOT,
    StreamBuilder,
    load_source,
    to_text,
    to_units,
    write_stream,
)
from tests.fixture_paths import SHARED_FIXTURES, shared_fixture

SNAPSHOT_ID = 499869752  # lastUpdateId of the recorded NKNUSDT REST snapshot
ID_SPAN = 430  # recorded frames cover U 499869750 .. u 499870179
MS_SPAN = 30114  # recorded E 1633998512068 .. 1633998542082, plus 100 ms


@pytest.fixture(scope="module")
def source() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    shared_fixture(SNAPSHOT)
    shared_fixture(CAPTURE)
    return load_source(SHARED_FIXTURES)


def build(source: Any, seed: int = 13, depth: int = 1000) -> StreamBuilder:
    snapshot, frames = source
    return StreamBuilder(snapshot, frames, seed, depth)


def test_units_round_trip() -> None:
    assert to_units("0.35130000") == 35_130_000
    assert to_units("117924.5") == 11_792_450_000_000
    assert to_text(35_130_000) == "0.35130000"
    assert to_text(0) == "0.00000000"


def test_source_is_the_recorded_nknusdt_depth(source: Any) -> None:
    snapshot, frames = source
    assert snapshot["lastUpdateId"] == SNAPSHOT_ID
    assert (len(snapshot["bids"]), len(snapshot["asks"])) == (609, 1000)
    assert len(frames) == 150
    assert (frames[0]["data"]["U"], frames[-1]["data"]["u"]) == (499869750, 499870179)


def test_update_ids_chain_across_cycles(source: Any) -> None:
    frames = [f["data"] for f in build(source).frames(1000)]
    assert frames[0]["u"] == SNAPSHOT_ID  # dropped by the u <= lastUpdateId rule
    assert frames[1]["U"] == SNAPSHOT_ID + 1  # the first applied event straddles the snapshot
    for prev, nxt in itertools.pairwise(frames):
        assert nxt["U"] == prev["u"] + 1
        assert nxt["E"] >= prev["E"]
    assert frames[150]["U"] == 499869750 + ID_SPAN
    assert frames[150]["E"] == 1633998512068 + MS_SPAN


def test_cycle_zero_is_the_capture_and_later_cycles_move(source: Any) -> None:
    _, recorded = source
    out = list(build(source).frames(300))
    assert out[:150] == recorded
    first, moved = recorded[0]["data"]["b"], out[150]["data"]["b"]
    deltas = {to_units(m[0]) - to_units(r[0]) for r, m in zip(first, moved, strict=True)}
    assert len(deltas) == 1
    assert deltas.pop() in (-10_000, 0, 10_000)  # one walk step of 0.0001
    assert [m[1] for m in moved] != [r[1] for r in first]  # sizes rescaled


class Replay:
    """A plain dict book applying frames by Binance's rules, independent of the builder."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.last_id: int = snapshot["lastUpdateId"]
        self.sides = {
            key: {to_units(p): to_units(q) for p, q in snapshot[name]}
            for key, name in (("b", "bids"), ("a", "asks"))
        }

    def apply(self, data: dict[str, Any]) -> bool:
        if data["u"] <= self.last_id:
            return False
        assert data["U"] <= self.last_id + 1 <= data["u"]
        self.last_id = data["u"]
        for key, side in self.sides.items():
            for price, size in data[key]:
                if to_units(size) == 0:
                    side.pop(to_units(price), None)
                else:
                    side[to_units(price)] = to_units(size)
        return True

    def top(self, key: str) -> list[str]:
        side = self.sides[key]
        price = max(side) if key == "b" else min(side)
        return [to_text(price), to_text(side[price])]


@pytest.mark.parametrize(("depth", "count"), [(1000, 3000), (620, 1200)])
def test_replay_stays_uncrossed_capped_and_ends_in_the_summary(
    source: Any, depth: int, count: int
) -> None:
    builder = build(source, depth=depth)
    replay = Replay(source[0])
    for frame in builder.frames(count):
        if replay.apply(frame["data"]):
            assert max(replay.sides["b"]) < min(replay.sides["a"])
            assert len(replay.sides["b"]) <= depth
            assert len(replay.sides["a"]) <= depth
    summary = builder.summary()
    assert summary["applied_frames"] == count - 1
    assert summary["best_bid"] == replay.top("b")
    assert summary["best_ask"] == replay.top("a")
    assert summary["bid_levels"] == len(replay.sides["b"])
    assert summary["ask_levels"] == len(replay.sides["a"])
    if depth == 1000:  # the recorded snapshot holds 609 bids and 1000 asks
        assert 590 <= summary["bid_levels"] <= 630
        assert 950 <= summary["ask_levels"] <= 1000


def test_same_seed_same_stream_other_seed_other_stream(source: Any) -> None:
    one = list(build(source, seed=13).frames(600))
    assert one == list(build(source, seed=13).frames(600))
    other = list(build(source, seed=14).frames(600))
    assert one[:150] == other[:150]
    assert one[150:] != other[150:]


def test_crossing_and_capping_add_deletions() -> None:
    snapshot = {
        "lastUpdateId": 10,
        "bids": [["1.00", "1"], ["0.99", "1"]],
        "asks": [["1.01", "1"], ["1.02", "1"]],
    }
    template = [
        {
            "stream": "x",
            "data": {
                "e": "depthUpdate",
                "E": 1,
                "s": "X",
                "U": 11,
                "u": 11,
                "b": [["1.01", "2"]],
                "a": [],
            },
        }
    ]
    builder = StreamBuilder(snapshot, template, seed=1, depth=2)
    (frame,) = builder.frames(1)
    # the new 1.01 bid crosses the resting 1.01 ask (deleted); bids then hold 3 > 2 levels
    assert frame["data"]["b"] == [["1.01000000", "2.00000000"], ["0.99000000", "0.00000000"]]
    assert frame["data"]["a"] == [["1.01000000", "0.00000000"]]
    assert builder.summary() == {
        "applied_frames": 1,
        "levels_changed": 3,
        "best_bid": ["1.01000000", "2.00000000"],
        "best_ask": ["1.02000000", "1.00000000"],
        "bid_levels": 2,
        "ask_levels": 1,
    }


def test_write_stream_files(source: Any, tmp_path: Path) -> None:
    meta = write_stream(tmp_path, 300, fixtures=SHARED_FIXTURES)
    lines = (tmp_path / "frames.jsonl").read_text().splitlines()
    assert len(lines) == 300
    assert json.loads(lines[1])["data"]["U"] == SNAPSHOT_ID + 1
    assert json.loads((tmp_path / "snapshot.json").read_text())["lastUpdateId"] == SNAPSHOT_ID
    assert json.loads((tmp_path / "meta.json").read_text()) == meta
    assert meta["applied_frames"] == 299
    replay = Replay(json.loads((tmp_path / "snapshot.json").read_text()))
    for line in lines:
        replay.apply(json.loads(line)["data"])
    assert (meta["best_bid"], meta["best_ask"]) == (replay.top("b"), replay.top("a"))
