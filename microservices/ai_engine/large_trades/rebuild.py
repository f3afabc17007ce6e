"""Taking a shard of exchange.raw: the new owner's watch rebuilt, every output written once.

Delivery is at least once (SPEC section 8): a dead owner leaves entries pending (read, maybe
handled, maybe written, never acknowledged) and entries it never read. A batch is
acknowledged only after its large trades and alerts were written, so the shard splits in two
at `acknowledged_upto` (the group's last delivered id, or just below its oldest pending
entry):
- entries at or below it: their outputs are written; they are folded without publishing;
- the entries after it: folded, and their outputs published unless already written. What is
  written is read back first: the shard of exchange.large_trades (row ids) and `alerts` (this
  role's alerts of the shard's groups, compared field by field: `alert_key`), newest first
  down to the time of the first such entry less SEED_MARGIN_MS (an output is written after
  its entry; the margin covers the clocks of a cluster's nodes), at most SEED_MAX entries
  each.
Then the group restarts after the last folded entry (`shard_rebuild.restart_group`), with no
pending entries: nothing is handled twice, and the watch equals that of one watcher fed every
retained entry of the shard once. Outputs are written before the group restarts: an owner
that dies in between leaves them for the next one to find.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from microservices.ai_engine.large_trades.shard import Outputs, WatchShard, alert_group
from microservices.common.errors import SchemaError
from microservices.common.large_trade_schema import LargeTrade
from microservices.common.market_alerts import MarketAlert, encode_market_alert
from microservices.common.records import RawRecord
from microservices.common.shard_read import as_text, id_order, newest_pages
from microservices.common.shard_rebuild import EntryId, replay, restart_group
from microservices.common.streams import Stream, Streams

SOURCE: Final = "large_trades"
SEED_MAX: Final = 20_000  # output entries read back per stream at most
SEED_MARGIN_MS: Final = 60_000
SEED_PAGE: Final = 1_000
FieldsKey = tuple[tuple[str, str], ...]
Emit = Callable[[list[LargeTrade], list[MarketAlert]], Awaitable[None]]


def alert_id(alert: MarketAlert) -> str:
    """An alert's id (its RabbitMQ message id): type, venue, symbol and event time."""
    return f"{alert.type}:{alert.venue}:{alert.symbol}:{alert.ts_ms}"


def fields_key(fields: Mapping[Any, Any]) -> FieldsKey:
    """An `alerts` entry's fields, as text, in a fixed order: what the read-back compares
    (the written alert itself: its timestamp has seconds precision, and two alerts of one
    second differ in their reason and data)."""
    return tuple(sorted((as_text(k), as_text(v)) for k, v in fields.items()))


def alert_key(alert: MarketAlert) -> FieldsKey:
    """`fields_key` of the entry `alert` is written as."""
    return fields_key(encode_market_alert(alert))


@dataclass(slots=True)
class Written:
    """The outputs of a shard already in Redis: large-trade row ids, alert keys."""

    trades: set[str] = field(default_factory=set)
    alerts: set[FieldsKey] = field(default_factory=set)
    truncated: bool = False  # SEED_MAX reached before the seed window's start

    def missing(self, trades: list[LargeTrade], alerts: list[MarketAlert]) -> Outputs:
        return (
            [t for t in trades if t.row_id not in self.trades],
            [a for a in alerts if alert_key(a) not in self.alerts],
        )


@dataclass(slots=True)
class Rebuilt:
    folded: int = 0
    trades: int = 0  # large trades published (their entries' outputs were missing)
    alerts: int = 0
    skipped: int = 0  # outputs found already written
    truncated: bool = False


async def _newest_since(redis: Any, name: str, since_ms: int) -> AsyncIterator[Any]:
    """Entries' fields of `name`, newest first, down to `since_ms`; None after SEED_MAX."""
    pages = itertools.repeat(SEED_PAGE, math.ceil(SEED_MAX / SEED_PAGE))
    async for rows in newest_pages(redis, name, pages, lower=f"{since_ms}-0"):
        for _, fields in rows:
            yield fields
        if len(rows) < SEED_PAGE:
            return
    yield None


async def written_outputs(redis: Any, streams: Streams, unit: WatchShard, since_ms: int) -> Written:
    """What the shard's outputs since `since_ms` hold (module docstring)."""
    written = Written()
    trades = streams.large_trades.shard(unit.index)
    async for fields in _newest_since(redis, trades.name, since_ms):
        if fields is None:
            written.truncated = True
        elif (trade := _decoded(trades, fields)) is not None:
            written.trades.add(trade.row_id)
    alerts = streams.market_alerts
    async for fields in _newest_since(redis, alerts.name, since_ms):
        if fields is None:
            written.truncated = True
            continue
        alert = _decoded(alerts, fields)
        if alert is not None and alert.source == SOURCE and unit.home(alert_group(alert)):
            written.alerts.add(fields_key(fields))
    return written


def _decoded(stream: Stream[Any], fields: Any) -> Any:
    try:
        return stream.schema.decode(fields)
    except SchemaError:
        return None


async def rebuild_shard(
    redis: Any, unit: WatchShard, raw: Stream[Any], group: str, upto: EntryId, written: Written,
    emit: Emit,
) -> Rebuilt:  # fmt: skip
    """Fold every entry of `raw` (one shard) into `unit`; emit the outputs of the entries after
    `upto` that `written` lacks; restart `group` after the last entry folded."""
    done = Rebuilt(truncated=written.truncated)

    async def handle(batch: list[tuple[str, RawRecord]]) -> None:
        cut = bisect.bisect_right(batch, upto, key=lambda entry: id_order(entry[0]))
        if cut:
            unit.fold(batch[:cut])  # written and acknowledged already
        if cut < len(batch):
            trades, alerts = unit.fold(batch[cut:])
            fresh_trades, fresh_alerts = written.missing(trades, alerts)
            done.skipped += len(trades) + len(alerts) - len(fresh_trades) - len(fresh_alerts)
            if fresh_trades or fresh_alerts:
                await emit(fresh_trades, fresh_alerts)
            done.trades += len(fresh_trades)
            done.alerts += len(fresh_alerts)

    done.folded = await replay(redis, raw, handle)
    await emit([], [])  # writes what an earlier, failed attempt still holds
    await restart_group(redis, raw, unit.applied, group)
    return done


def seed_since(upto: EntryId) -> int:
    """Where the read-back of written outputs starts (ms): the first entry not known to be
    acknowledged, less the margin."""
    return max(0, upto[0] - SEED_MARGIN_MS)
