"""Micro-benchmarks of the end-to-end hot paths touched in issue 19, each A/B in one process:

- `pack`: RESP packing of trade and ticker records (`raw_wire.FAST_PACKERS`), us a record;
- `decode`: the aggregator's fast decode of exchange.raw entries (`raw_decode.decode_fast`),
  us an entry;
- `ws`: CPU per received frame of websockets' `ClientConnection` and of the collector's
  `FastClientConnection`, reading the replay feed (Binance combined streams) at `--ws-rate`.

`--baseline REF` loads the `pack`/`decode` modules as they were at git commit REF (`git show`)
and times them against the working tree's, alternating, 3 rounds; outputs are asserted equal.

    python -m benchmarks.bench_hotpaths --baseline 3d504d5 [--only pack,decode,ws]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks.common import REPO
from microservices.common import raw_decode, raw_wire
from microservices.common.records import RawRecord
from microservices.common.schemas import encode_raw
from microservices.data_collector.exchanges import _records as build

VENUES = ("binance", "binance_futures", "bybit", "coinbase")


def records() -> list[RawRecord]:
    out: list[RawRecord] = []
    for i in range(50):
        for j, venue in enumerate(VENUES):
            head = {"exchange": venue, "market": "spot", "symbol": f"S{i}USDT",
                    "venue_symbol": f"S{i}USDT", "group": f"S{i}USDT", "quote": "USDT"}  # fmt: skip
            ts, px = 1_796_512_187_421 + i, 101_234.5 + i
            out.append(build.trade(head, ts_ms=ts, recv_ms=ts + 2, price=px, size=0.012,
                                   side="buy", trade_id=str(123_456_789_012 + i)))  # fmt: skip
            out.append(build.ticker(head, ts_ms=ts, recv_ms=ts + 2, bid=px - 0.1, bid_size=1.5,
                                    ask=px + 0.1, ask_size=2.25, last=None if j % 2 else px))  # fmt: skip
    return out


def baseline(module: str, ref: str) -> ModuleType:
    """`microservices/common/<module>.py` as it was at `ref`, imported under another name."""
    text = subprocess.run(["git", "show", f"{ref}:microservices/common/{module}.py"], cwd=REPO,
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    path = Path(tempfile.mkdtemp(prefix="ce-hot-")) / f"{module}_baseline.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(f"{module}_baseline", path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def per_item(fn: Callable[[], None], items: int) -> float:
    return min(timeit.repeat(fn, number=100, repeat=5)) / 100 / items * 1e6


def ab(name: str, pairs: dict[str, Callable[[], None]], items: int) -> None:
    for _ in range(3):
        cells = [f"{label} {per_item(fn, items):.2f} us" for label, fn in pairs.items()]
        print(f"{name}: " + ", ".join(cells), flush=True)


def bench_pack(ref: str | None) -> None:
    recs = records()
    mods = {"now": raw_wire} | ({f"at {ref}": baseline("raw_wire", ref)} if ref else {})

    def runner(mod: Any) -> Callable[[], None]:
        packers = mod.FAST_PACKERS

        def run() -> None:
            for r in recs:
                packers[r.type](r)

        return run

    for mod in mods.values():
        assert [mod.FAST_PACKERS[r.type](r) for r in recs] == [
            raw_wire.FAST_PACKERS[r.type](r) for r in recs
        ]
    ab("pack a record", {k: runner(m) for k, m in mods.items()}, len(recs))


def bench_decode(ref: str | None) -> None:
    entries = [{k.encode(): v.encode() for k, v in encode_raw(r).items()} for r in records()]
    mods = {"now": raw_decode} | ({f"at {ref}": baseline("raw_decode", ref)} if ref else {})
    for mod in mods.values():
        assert [mod.decode_fast(e) for e in entries] == [raw_decode.decode_fast(e) for e in entries]

    def runner(mod: Any) -> Callable[[], None]:
        decode = mod.decode_fast

        def run() -> None:
            for e in entries:
                decode(e)

        return run

    ab("decode an entry", {k: runner(m) for k, m in mods.items()}, len(entries))


async def ws_cpu(cls: Any, port: int, seconds: float) -> tuple[float, float]:
    from websockets.asyncio.client import connect

    url = f"ws://127.0.0.1:{port}/binance/stream?streams=btcusdt@aggTrade/ethusdt@aggTrade"
    async with connect(url, create_connection=cls, compression=None, max_size=1 << 22) as ws:
        for _ in range(2_000):
            await ws.recv()
        count, cpu0, t0 = 0, time.process_time(), time.monotonic()
        while time.monotonic() - t0 < seconds:
            await ws.recv()
            count += 1
        return (time.process_time() - cpu0) / count * 1e6, count / seconds


def bench_ws(rate: float) -> None:
    from websockets.asyncio.client import ClientConnection

    from microservices.common.redis_server import free_port, wait_for_port
    from microservices.data_collector.ws_fast import FastClientConnection

    port = free_port()
    feed = subprocess.Popen([sys.executable, "-m", "benchmarks.replay_feed", "--port",
                             str(port), "--rate", str(rate / 2)], cwd=REPO)  # fmt: skip
    try:
        wait_for_port("127.0.0.1", port, 15)
        for _ in range(3):
            cells = []
            for label, cls in (("websockets", ClientConnection), ("fast", FastClientConnection)):
                us, got = asyncio.run(ws_cpu(cls, port, 4.0))
                cells.append(f"{label} {us:.2f} us at {got:,.0f} frames/s")
            print("CPU per received frame: " + ", ".join(cells), flush=True)
    finally:
        feed.terminate()
        feed.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", default=None, help="git commit of the modules before")
    parser.add_argument("--only", default="pack,decode,ws")
    parser.add_argument("--ws-rate", type=float, default=20_000, help="frames/s of the feed")
    ns = parser.parse_args()
    only = set(ns.only.split(","))
    if "pack" in only:
        bench_pack(ns.baseline)
    if "decode" in only:
        bench_decode(ns.baseline)
    if "ws" in only:
        bench_ws(ns.ws_rate)


if __name__ == "__main__":
    main()
