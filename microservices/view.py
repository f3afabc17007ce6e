"""Live terminal view of the all-in-one run: per symbol, venue prices, divergence, funding
delta, volatility factor, the CME basis when there is one, ExitBrain multipliers and mode,
plus venue connection states."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

import redis.asyncio as aredis

from microservices.common import shard_read
from microservices.common.errors import SchemaError
from microservices.common.records import ExitStatus, FuturesBasis, NormalizedSnapshot
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS
from microservices.common.settings import Settings

CLEAR = "\x1b[2J\x1b[H"


def render(
    symbols: list[str],
    snapshots: dict[str, NormalizedSnapshot],
    statuses: dict[str, ExitStatus],
    venues: dict[str, dict[str, Any]],
) -> str:
    lines = ["Cross-Exchange Intelligence  (Ctrl-C to stop)", ""]
    venue_cells = [f"{v}: {info['state']}" for v, info in sorted(venues.items())]
    lines.append("venues  " + "  ".join(venue_cells))
    lines.append("")
    for symbol in symbols:
        snap = snapshots.get(symbol)
        if snap is None:
            lines.append(f"{symbol:<9} waiting for >= 2 fresh venues ...")
            continue
        prices = "  ".join(f"{v}={q.price:,.2f}" for v, q in snap.venues.items())
        lines.append(f"{symbol:<9} avg {snap.avg_price:,.2f}  {prices}")
        lines.append(
            f"{'':<9} divergence {snap.exchange_divergence * 1e4:6.2f} bps  "
            f"funding_delta {snap.funding_delta:+.4f} %/8h  vol_factor {snap.volatility_factor:.2f}"
            + (f"  DVOL {snap.dvol:.2f} %" if snap.dvol is not None else "")
            + (f"  excluded {snap.excluded}" if snap.excluded else "")
        )
        if snap.basis is not None:
            lines.append(f"{'':<9} {basis_cell(snap.basis)}")
        status = statuses.get(symbol)
        if status is not None:
            mode = "cross-exchange" if status.cross_exchange_active else "LOCAL"
            lines.append(
                f"{'':<9} ExitBrain ATR×{status.atr_multiplier:.2f} TP×{status.tp_multiplier:.4f} "
                f"SL×{status.sl_multiplier:.4f} trailing={status.use_trailing} mode={mode}"
            )
        lines.append("")
    return "\n".join(lines)


def basis_cell(basis: FuturesBasis) -> str:
    """The CME front month against spot: `BTC-CME-2027F 2026-12-15 basis +849.99 USD
    (+7.98 %/y, 44.8 d)` (delayed: the settlement's trade date is shown)."""
    yearly = basis.basis_pct_annualised
    rate = f"{yearly:+.2f} %/y, " if yearly is not None else ""
    return (
        f"{basis.contract} {basis.trade_date} basis {basis.basis_usd:+,.2f} USD "
        f"({rate}{basis.days_to_expiry:.1f} d)"
    )


class TerminalView:
    def __init__(self, settings: Settings, redis: aredis.Redis, collector: Any, engine: Any):
        self.settings = settings
        self.redis = redis
        self.collector = collector
        self.engine = engine

    async def latest_statuses(self) -> dict[str, ExitStatus]:
        stream = self.settings.streams().status
        out: dict[str, ExitStatus] = {}
        with contextlib.suppress(*TRANSIENT_REDIS_ERRORS):
            # the newest 50 of each shard: a symbol's statuses all sit in its shard
            per_shard = await shard_read.newest_per_shard(self.redis, stream, 50)
            for rows in per_shard.values():
                for _, fields in rows:
                    with contextlib.suppress(SchemaError):
                        status = stream.schema.decode(fields)
                        out.setdefault(status.symbol, status)
        return out

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            aggregator = self.engine.aggregator
            snapshots = aggregator.last_snapshots if aggregator is not None else {}
            text = render(
                self.collector.following.symbols, snapshots, await self.latest_statuses(),
                self.collector.status.summary(),
            )  # fmt: skip
            sys.stdout.write(CLEAR + text + "\n")
            sys.stdout.flush()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
