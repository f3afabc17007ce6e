"""Benchmark 2: collector publish throughput into a real redis-server, one process.

A fresh `redis-server` (LocalRedis, no persistence) per run. The collector's own write path
is used unchanged: `StreamProducer` with the default batch size (500) and flush interval
(5 ms) running as a task, fed the way the WebSocket bridges feed it (chunks of records, the
event loop yielding between chunks). Two cases:

- `publish`: prepared raw records (a trade/ticker/kline mix over 4 venues x 50 symbols)
  -> `producer.publish` (schema encode + buffer) -> pipelined XADD into `exchange.raw`;
- `parse+publish`: prepared Binance USD-M frames (aggTrade/bookTicker/kline, JSON text)
  -> `parser.parse` -> `producer.publish` -> Redis: the collector's CPU path minus sockets.

A run ends when the producer has written every record; the number of entries Redis added
(XINFO STREAM `entries-added`) is checked against it. records/s = records / wall time.

    python -m benchmarks.bench_publish [--records 200000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from benchmarks.common import Result, machine, table
from microservices.common.producer import StreamProducer
from microservices.common.records import AnyRaw, Kline, Ticker, Trade
from microservices.common.redis_io import create_redis
from microservices.common.redis_server import LocalRedis
from microservices.common.streams import build_streams
from microservices.data_collector import exchanges
from microservices.data_collector.exchanges import EXCHANGES
from microservices.exchange_simulator.naming import SAMPLE_BASES, sample_symbols

VENUES = tuple(exchanges.default_venues())  # the venues VENUES defaults to
CHUNK = 100  # records handed to the producer between event-loop yields (one WS read burst)
BATCH_SIZE = 500
FLUSH_INTERVAL_MS = 5
T0 = 1_750_000_000_000


def sample_records(count: int) -> list[AnyRaw]:
    """A deterministic trade/ticker/kline mix (2:2:1) over the default venues x 50 symbols."""
    out: list[AnyRaw] = []
    followed = sample_symbols(50)
    heads = {v: EXCHANGES[v](followed, ws_url="", rest_url="") for v in VENUES}
    for i in range(count):
        venue = VENUES[i % len(VENUES)]
        symbol = followed[(i // len(VENUES)) % 50]
        head: dict[str, Any] = {
            **heads[venue].symbol_head(symbol), "ts_ms": T0 + i, "recv_ms": T0 + i + 3,
        }  # fmt: skip
        px = 100.0 + (i % 997) * 0.01
        kind = i % 5
        if kind < 2:
            out.append(Trade(**head, price=px, size=0.125, side="buy", trade_id=str(i)))
        elif kind < 4:
            out.append(Ticker(**head, bid=px, bid_size=1.5, ask=px + 0.01, ask_size=2.25))
        else:
            out.append(
                Kline(**head, open_time_ms=T0 - T0 % 60_000, interval="1m", open=px,
                      high=px + 1, low=px - 1, close=px, volume=12.5, closed=False)
            )  # fmt: skip
    return out


def sample_frames(count: int) -> list[str]:
    """Binance USD-M aggTrade/bookTicker/kline combined-stream frames, 50 symbols."""
    out = []
    for i in range(count):
        sym = f"{SAMPLE_BASES[i % 50]}USDT"
        stream = sym.lower()
        px = f"{100.0 + (i % 997) * 0.01:.2f}"
        kind = i % 3
        if kind == 0:
            data = (
                f'{{"e":"aggTrade","E":{T0 + i},"a":{i},"s":"{sym}","p":"{px}","q":"0.125",'
                f'"f":{i},"l":{i},"T":{T0 + i},"m":true}}'
            )
            out.append(f'{{"stream":"{stream}@aggTrade","data":{data}}}')
        elif kind == 1:
            data = (
                f'{{"e":"bookTicker","u":{i},"s":"{sym}","b":"{px}","B":"1.5","a":"{px}1",'
                f'"A":"2.25","T":{T0 + i},"E":{T0 + i}}}'
            )
            out.append(f'{{"stream":"{stream}@bookTicker","data":{data}}}')
        else:
            bar = (
                f'{{"t":{T0 - T0 % 60_000},"T":{T0 - T0 % 60_000 + 59_999},"s":"{sym}",'
                f'"i":"1m","f":1,"L":2,"o":"{px}","c":"{px}","h":"{px}","l":"{px}",'
                f'"v":"12.5","n":2,"x":false,"q":"1250.0","V":"6.0","Q":"600.0","B":"0"}}'
            )
            data = f'{{"e":"kline","E":{T0 + i},"s":"{sym}","k":{bar}}}'
            out.append(f'{{"stream":"{stream}@kline_1m","data":{data}}}')
    return out


async def _one_run(items: list[Any], parse: bool) -> tuple[float, int]:
    with LocalRedis() as server:
        redis = create_redis(server.url)
        streams = build_streams()
        raw = streams.raw
        producer = StreamProducer(
            redis, batch_size=BATCH_SIZE, flush_interval_ms=FLUSH_INTERVAL_MS,
            buffer_size=len(items) + 1,
        )  # fmt: skip
        stop = asyncio.Event()
        await redis.ping()
        parser = EXCHANGES["binance_futures"](
            sample_symbols(50), ws_url="", rest_url=""
        ).new_parser()
        writer = asyncio.create_task(producer.run(stop))
        publish = producer.publish
        started = time.perf_counter()
        expected = 0
        for start in range(0, len(items), CHUNK):
            for item in items[start : start + CHUNK]:
                if parse:
                    for record in parser.parse(item, T0):
                        publish(raw, record)
                        expected += 1
                else:
                    publish(raw, item)
                    expected += 1
            await asyncio.sleep(0)
        while producer.sent < expected:  # noqa: ASYNC110 (polling a counter)
            await asyncio.sleep(0.001)
        elapsed = time.perf_counter() - started
        stop.set()
        await writer
        info: Any = await redis.xinfo_stream(raw.name)
        added = int(info.get("entries-added", info.get(b"entries-added", 0)))
        await redis.aclose()
        if added != expected or producer.dropped:
            raise RuntimeError(f"redis added {added} entries, expected {expected}")
        return expected / elapsed, added


def run(count: int, runs: int) -> list[Result]:
    records = sample_records(count)
    frames = sample_frames(count)
    results = []
    for label, items, parse in (("publish", records, False), ("parse+publish", frames, True)):
        per_run = [asyncio.run(_one_run(items, parse))[0] for _ in range(runs)]
        note = (
            f"{count:,} records, batch {BATCH_SIZE}, flush {FLUSH_INTERVAL_MS} ms, "
            "MAXLEN ~ 10000; target >= 60k"
        )
        results.append(Result(f"collector {label} -> redis-server", "records/s", per_run, note))
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    ns = parser.parse_args()
    print(f"machine: {machine()}")
    print(table(run(ns.records, ns.runs)))


if __name__ == "__main__":
    main()
