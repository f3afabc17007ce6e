"""kill -9 of the aggregator process under load, then a restart with the same consumer name.

The test publishes raw records at a steady rate (~600/s: tickers and trades of three venues
for two symbols, funding and open interest of the perps) while `cross-exchange aggregator`
consumes them in small batches. It SIGKILLs the aggregator mid-stream, keeps publishing,
restarts it, publishes more, and re-publishes copies of 150 earlier entries, the newest 20
among them (what a producer re-send after a lost reply looks like). Then: the group has delivered and acknowledged every entry
(entries-read == XLEN, pending 0, lag 0), and the last normalized entry of each symbol
equals, field for field, the snapshot of an in-process aggregator that folded every
distinct raw entry exactly once, evaluated at the same instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from typing import Any

import pytest
import redis.asyncio as aredis

from microservices.ai_engine.aggregator_service import aggregator_params
from microservices.ai_engine.cross_exchange_aggregator import CrossExchangeState
from microservices.common.clock import now_ms
from microservices.common.derived_schemas import NORMALIZED
from microservices.common.producer import StreamProducer
from microservices.common.records import Funding, OpenInterest, Ticker, Trade
from microservices.common.redis_server import LocalRedis
from microservices.common.settings import Settings, load_settings
from microservices.common.streams import Streams
from tests.reliability.helpers import (
    ServiceProcess,
    Services,
    eventually,
    group_info,
    measure,
    service_env,
    stream_fields,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SYMBOLS = ("BTCUSDT", "ETHUSDT")
VENUES = {"binance": "spot", "binance_futures": "perp", "bybit": "perp"}
START = {"BTCUSDT": 65_000.0, "ETHUSDT": 3_200.0}
SETTINGS = {
    "symbols": SYMBOLS,
    "venues": tuple(VENUES),
    "maxlen_raw": 1_000_000,
    "consumer_batch_size": 40,
    "consumer_block_ms": 200,
    "aggregator_volume_window_s": 2.0,
}


class Market:
    """Random-walk quotes and trades; every record unique (ids, times, values)."""

    def __init__(
        self, start: dict[str, float] = START, venues: dict[str, str] = VENUES, seed: int = 42
    ) -> None:
        self.rng = random.Random(seed)
        self.mid = dict(start)
        self.venues = venues
        self.trade_id = 0
        self.last_ts = 0
        self.ticks = 0
        self.records = 0  # records returned so far

    def tick(self) -> list[Any]:
        self.ticks += 1
        ts = max(now_ms(), self.last_ts + 1)
        self.last_ts = ts
        out: list[Any] = []
        for symbol in self.mid:
            self.mid[symbol] *= 1 + self.rng.gauss(0, 2e-5)
            for venue, market in self.venues.items():
                mid = round(self.mid[symbol] * (1 + self.rng.uniform(-5e-5, 5e-5)), 2)
                head = {
                    "exchange": venue,
                    "market": market,
                    "symbol": symbol,
                    "venue_symbol": symbol,
                    "group": symbol,
                    "quote": "USDT",
                    "ts_ms": ts,
                    "recv_ms": ts,
                }
                self.trade_id += 1
                out.append(
                    Ticker(**head, bid=mid - 0.01, bid_size=1.0, ask=mid + 0.01, ask_size=1.5)
                )
                out.append(
                    Trade(
                        **head,
                        price=mid,
                        size=round(self.rng.uniform(0.01, 2), 3),
                        side="buy",
                        trade_id=str(self.trade_id),
                    )
                )
                if market == "perp" and self.ticks % 25 == 0:
                    rate = round(self.rng.uniform(-3e-4, 3e-4), 6)
                    out.append(Funding(**head, funding_rate=rate, funding_interval_h=8.0))
                    out.append(OpenInterest(**head, open_interest=1_000.0 + self.ticks))
        self.records += len(out)
        return out


async def publish_for(
    producer: StreamProducer, streams: Streams, market: Market, seconds: float
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for record in market.tick():
            producer.publish(streams.raw, record)
        await producer.flush()
        await asyncio.sleep(0.02)


async def test_aggregator_sigkill_loses_no_entry_and_duplicates_change_nothing(
    redis_server: LocalRedis, real_redis: aredis.Redis, stream_prefix: str, services: Services
) -> None:
    settings: Settings = load_settings(
        env_file=None, redis_url=redis_server.url, stream_prefix=stream_prefix, **SETTINGS
    )
    streams = settings.streams()
    env = service_env(redis_server.url, stream_prefix, **SETTINGS)
    producer, market = StreamProducer(real_redis), Market()
    aggregator = services.start("aggregator", env)

    async def consuming() -> bool:
        with contextlib.suppress(AssertionError, aredis.ResponseError):
            return (await group_info(real_redis, streams.raw.name, "aggregator"))[
                "entries-read"
            ] > 0
        return False

    await publish_for(producer, streams, market, 0.5)
    await eventually(consuming, 30, "the aggregator to consume")
    await publish_for(producer, streams, market, 1.5)
    pending_at_kill = await kill_with_entries_pending(
        aggregator, real_redis, producer, streams, market
    )
    assert pending_at_kill > 0, "no freeze landed between a read and its acknowledgement"
    await publish_for(producer, streams, market, 1.0)  # published while no aggregator runs
    restarted_at = time.monotonic()
    aggregator = services.start("aggregator", env, name="aggregator-restarted")
    await eventually(lambda: caught_up(real_redis, streams), 30, "the restart to catch up")
    recovery_s = time.monotonic() - restarted_at
    await publish_for(producer, streams, market, 2.5)  # longer than the 2 s volume window
    # copies of old entries and of the newest ones (whose trades are in the volume window)
    await republish_copies(real_redis, streams.raw.name, 150)
    group = await eventually(lambda: caught_up(real_redis, streams), 30, "the final catch-up")
    settled_ms = now_ms()
    finals = await eventually(
        lambda: last_normalized(real_redis, streams, settled_ms),
        10,
        "a normalized entry per symbol after the catch-up",
    )
    assert await aggregator.terminate() == 0
    rows = await stream_fields(real_redis, streams.raw.name)
    assert group["entries-read"] == len(rows) and group["last-delivered-id"] == rows[-1][0]
    consumers = await real_redis.xinfo_consumers(streams.raw.name, "aggregator")
    assert [c["pending"] for c in consumers] == [0]  # one consumer name, nothing left pending

    distinct = list({tuple(sorted(f.items())): f for _, f in rows}.values())
    assert len(rows) - len(distinct) == 150
    reference = CrossExchangeState(aggregator_params(settings))
    for fields in distinct:
        reference.update(streams.raw.schema.decode(fields))
    for symbol, entry in finals.items():
        at = round(float(entry["timestamp"]) * 1000)
        expected = reference.snapshot(symbol, at)
        assert expected is not None
        wire = NORMALIZED.encode(expected)
        diff = {
            k: (entry.get(k), wire.get(k))
            for k in entry.keys() | wire.keys()
            if entry.get(k) != wire.get(k)
        }
        assert diff == {}, (symbol, diff)
        assert expected.num_exchanges == 3 and expected.funding_delta is not None
    measure(
        "Aggregator kill -9",
        f"SIGKILL under ~600 records/s with {pending_at_kill} entries read "
        "but unacknowledged, + 150 duplicate entries",
        "0 entries (every entry acknowledged; normalized output equal to a single pass)",
        recovery_s,
        "test_aggregator_kill",
        entries=len(rows),
    )


async def kill_with_entries_pending(
    aggregator: ServiceProcess,
    redis: aredis.Redis,
    producer: StreamProducer,
    streams: Streams,
    market: Market,
    attempts: int = 300,
) -> int:
    """SIGKILL the aggregator at a moment when it has read entries it has not acknowledged.

    During bursts it is frozen (SIGSTOP) at varying moments; when Redis shows entries pending
    for the group it is killed right there, else it resumes and the next burst follows. How
    fast it clears a burst (machine load, parser speed) only changes how many tries it takes.
    Returns the entries pending at the kill (0: no try landed inside a batch)."""
    delays = random.Random(3)
    for _ in range(attempts):
        for _ in range(50):  # a burst of 600 records: the aggregator is busy reading
            for record in market.tick():
                producer.publish(streams.raw, record)
        await producer.flush()
        await asyncio.sleep(delays.uniform(0.0, 0.02))
        aggregator.pause()
        pending = int((await redis.xpending(streams.raw.name, "aggregator"))["pending"])
        if pending:
            aggregator.kill()
            return pending
        aggregator.resume()
    aggregator.kill()
    return 0


async def caught_up(redis: aredis.Redis, streams: Streams) -> dict[str, Any] | None:
    info = await group_info(redis, streams.raw.name, "aggregator")
    return info if info["pending"] == 0 and info["lag"] == 0 else None


async def republish_copies(redis: aredis.Redis, stream: str, count: int) -> None:
    """XADD exact copies of `count` earlier entries (old and recent), like a re-sent batch."""
    rows = await stream_fields(redis, stream)
    picks = random.Random(7).sample(rows[: len(rows) - 20], count - 20) + rows[-20:]
    for _, fields in picks:
        await redis.xadd(stream, fields)  # type: ignore[arg-type]


async def last_normalized(
    redis: aredis.Redis, streams: Streams, after_ms: int
) -> dict[str, dict[str, str]] | None:
    """The newest normalized entry of each symbol computed after `after_ms` (its `timestamp`,
    the aggregator's clock when it polled, not the XADD time: a snapshot computed before the
    last batch was folded can be written after it)."""
    newest: dict[str, dict[str, str]] = {}
    for entry_id, fields in reversed(await stream_fields(redis, streams.normalized.name)):
        if int(entry_id.split("-")[0]) <= after_ms:
            break
        if round(float(fields["timestamp"]) * 1000) > after_ms:
            newest.setdefault(fields["symbol"], fields)
    return newest if set(newest) == set(SYMBOLS) else None
