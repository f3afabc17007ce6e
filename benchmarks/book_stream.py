"""The long Binance spot depth stream that our book and cryptofeed's both replay.

The real NKNUSDT `@depth@100ms` frames of the shared capture (150 frames after a 1000-level
REST snapshot) are repeated with update ids shifted so `U == prev_u + 1` holds throughout.
Cycle 0 is the capture as recorded; later cycles move every price by a seeded random walk of
whole 0.0001 steps and scale every size, so the book keeps changing instead of repeating. The
builder keeps its own book of the stream: where a cycle's prices would cross the book, or a
side would grow past `depth` levels, it adds the zero-size deletions a venue would send, so
both replayers see an uncrossed book of at most `depth` levels per side and must end equal.
Stdlib only: the Python 3.13 peer script (cryptofeed) imports it too.

    python -m benchmarks.book_stream --out DIR --frames 100000 [--seed 13] [--depth 1000]
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

UNIT: Final = 10**8  # Binance prints prices and sizes with 8 decimals; the builder counts 1e-8
STEP_UNITS: Final = 10_000  # one price step of the walk: 0.0001, the spacing near NKNUSDT's top
MAX_STEPS: Final = 50  # the walk stays within +-0.005 of the recorded prices
SIZE_LOT_UNITS: Final = 10_000_000  # sizes stay multiples of 0.1, the capture's smallest lot
DEFAULT_SEED: Final = 13
DEFAULT_DEPTH: Final = 1000
CAPTURE: Final = "binance/ws/spot_combined_depth_bookticker_kline_aggtrade.cryptofeed-2021.jsonl"
SNAPSHOT: Final = "binance/rest/api_v3_depth.NKNUSDT_limit1000.cryptofeed-2021.json"
STREAM: Final = "nknusdt@depth@100ms"
DEFAULT_FIXTURES: Final = Path(
    os.environ.get(
        "SHARED_FIXTURES_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "fixtures")
    )
)

Frame = dict[str, Any]


def to_units(text: str) -> int:
    """'0.35130000' -> 35130000 (exact, in 1e-8)."""
    whole, _, frac = text.partition(".")
    return int(whole) * UNIT + int((frac + "00000000")[:8])


def to_text(units: int) -> str:
    """35130000 -> '0.35130000', the way Binance prints it."""
    return f"{units // UNIT}.{units % UNIT:08d}"


def load_source(fixtures: Path = DEFAULT_FIXTURES) -> tuple[Frame, list[Frame]]:
    """The recorded REST snapshot and the combined-stream NKNUSDT depth frames, in order."""
    snapshot: Frame = json.loads((fixtures / SNAPSHOT).read_text())
    frames: list[Frame] = []
    for line in (fixtures / CAPTURE).read_text().splitlines():
        item = json.loads(line)
        if item.get("dir") != "recv" or item.get("frame") is None:
            continue
        frame = json.loads(item["frame"])
        if frame.get("stream") == STREAM:
            frames.append(frame)
    return snapshot, frames


class Side:
    """One side of the builder's book: price units -> size units, prices kept sorted."""

    def __init__(self, levels: Sequence[Sequence[str]], bids: bool) -> None:
        self.bids = bids
        self.sizes = {to_units(p): to_units(s) for p, s in levels if to_units(s) > 0}
        self.prices = sorted(self.sizes)

    def set(self, price: int, size: int) -> None:
        """Apply one level update; size 0 deletes (a no-op when the level is absent)."""
        if size == 0:
            if self.sizes.pop(price, None) is not None:
                del self.prices[bisect.bisect_left(self.prices, price)]
            return
        if price not in self.sizes:
            bisect.insort(self.prices, price)
        self.sizes[price] = size

    def best(self) -> int:
        return self.prices[-1] if self.bids else self.prices[0]

    def farthest(self) -> int:
        return self.prices[0] if self.bids else self.prices[-1]

    def top(self) -> tuple[str, str]:
        """(price, size) of the best level, as Binance prints them."""
        price = self.best()
        return to_text(price), to_text(self.sizes[price])


class StreamBuilder:
    """Yields the long stream frame by frame and keeps the book it implies."""

    def __init__(self, snapshot: Frame, frames: list[Frame], seed: int, depth: int) -> None:
        self.snapshot_id: int = snapshot["lastUpdateId"]
        self.template = frames
        self.rng = random.Random(seed)
        self.depth = depth
        self.bid = Side(snapshot["bids"], bids=True)
        self.ask = Side(snapshot["asks"], bids=False)
        first, last = frames[0]["data"], frames[-1]["data"]
        self.id_span: int = last["u"] - first["U"] + 1
        self.ms_span: int = last["E"] - first["E"] + 100
        self.applied = 0
        self.levels = 0

    def frames(self, count: int) -> Iterator[Frame]:
        """`count` frames: cycle 0 as recorded, then shifted and perturbed cycles."""
        offset = 0
        for index in range(count):
            cycle, position = divmod(index, len(self.template))
            if position == 0 and cycle > 0:
                offset = self._walk(offset)
            yield self._frame(self.template[position]["data"], cycle, offset)

    def _walk(self, offset: int) -> int:
        """Next cycle's price offset in steps: -1, 0 or +1, reflected at +-MAX_STEPS."""
        step = self.rng.choice((-1, 0, 1))
        if abs(offset + step) > MAX_STEPS:
            step = -step
        return offset + step

    def _frame(self, data: Frame, cycle: int, offset: int) -> Frame:
        shift = cycle * self.id_span
        out: Frame = {
            "e": "depthUpdate",
            "E": data["E"] + cycle * self.ms_span,
            "s": data["s"],
            "U": data["U"] + shift,
            "u": data["u"] + shift,
        }
        bids = self._levels(data["b"], cycle, offset)
        asks = self._levels(data["a"], cycle, offset)
        if out["u"] > self.snapshot_id:  # Binance: events with u <= lastUpdateId are dropped
            self._apply(bids, asks)
        out["b"] = [[to_text(p), to_text(s)] for p, s in bids.items()]
        out["a"] = [[to_text(p), to_text(s)] for p, s in asks.items()]
        return {"stream": STREAM, "data": out}

    def _levels(self, levels: list[list[str]], cycle: int, offset: int) -> dict[int, int]:
        """Price units -> size units of one side of a frame, moved and rescaled after cycle 0."""
        out: dict[int, int] = {}
        for price_text, size_text in levels:
            price, size = to_units(price_text), to_units(size_text)
            if cycle > 0:
                price = max(STEP_UNITS, price + offset * STEP_UNITS)
                if size > 0:
                    scaled = size * self.rng.randint(50, 150) // 100
                    size = max(SIZE_LOT_UNITS, scaled - scaled % SIZE_LOT_UNITS)
            out[price] = size
        return out

    def _apply(self, bids: dict[int, int], asks: dict[int, int]) -> None:
        """Apply a frame, then add the deletions that uncross the book and cap each side."""
        for price, size in bids.items():
            self.bid.set(price, size)
        for price, size in asks.items():
            self.ask.set(price, size)
        while self.bid.prices and self.ask.prices and self.bid.best() >= self.ask.best():
            # the side this frame did not just set at that price is the stale one
            if self.ask.best() in asks and self.bid.best() not in bids:
                self._delete(self.bid, bids, self.bid.best())
            else:
                self._delete(self.ask, asks, self.ask.best())
        for side, updates in ((self.bid, bids), (self.ask, asks)):
            while len(side.prices) > self.depth:
                self._delete(side, updates, side.farthest())
        self.applied += 1
        self.levels += len(bids) + len(asks)

    @staticmethod
    def _delete(side: Side, updates: dict[int, int], price: int) -> None:
        side.set(price, 0)
        updates[price] = 0

    def summary(self) -> dict[str, Any]:
        """Counts and the book after the frames yielded so far (what a replay must end with)."""
        return {
            "applied_frames": self.applied,
            "levels_changed": self.levels,
            "best_bid": list(self.bid.top()),
            "best_ask": list(self.ask.top()),
            "bid_levels": len(self.bid.prices),
            "ask_levels": len(self.ask.prices),
        }


def write_stream(
    out: Path,
    count: int,
    seed: int = DEFAULT_SEED,
    depth: int = DEFAULT_DEPTH,
    fixtures: Path = DEFAULT_FIXTURES,
) -> dict[str, Any]:
    """Write snapshot.json, frames.jsonl (one frame text a line) and meta.json into `out`."""
    snapshot, frames = load_source(fixtures)
    builder = StreamBuilder(snapshot, frames, seed, depth)
    out.mkdir(parents=True, exist_ok=True)
    (out / "snapshot.json").write_text(json.dumps(snapshot, separators=(",", ":")))
    with (out / "frames.jsonl").open("w") as handle:
        for frame in builder.frames(count):
            handle.write(json.dumps(frame, separators=(",", ":")) + "\n")
    meta = {
        "frames": count,
        "seed": seed,
        "depth": depth,
        "last_update_id": snapshot["lastUpdateId"],
    }
    meta |= {"source": [SNAPSHOT, CAPTURE], **builder.summary()}
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="directory to write into")
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--depth", type=int, default=DEFAULT_DEPTH, help="levels kept per side")
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    args = parser.parse_args(argv)
    meta = write_stream(args.out, args.frames, args.seed, args.depth, args.fixtures)
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
