"""PURE: the fail-safe state a former owner had for each symbol, from what it published.

ExitBrain's per-symbol state (`FailSafe`) is not a function of exchange.normalized alone: it
depends on when the loop read (one read every EXITBRAIN_INTERVAL_S, each "ok", "held",
"missing", "stale" or "error" at its read time), so replaying the input cannot give it back,
and a fresh start differs from one instance running on (counters from 0, FALLBACK_TO_LOCAL,
PRICE_DIVERGENCE and EXCHANGE_DOWN announced again). What the owner published can: each read
of the loop ends in one exitbrain.status entry (its counters and values), and each transition
in one exitbrain.alerts entry. A new owner of a shard starts each symbol from the shard's
retained status and alerts, oldest first (`fold_published`, `resume`):

| FailSafe field                   | from                                                     |
|----------------------------------|----------------------------------------------------------|
| total_reads, fail_count          | the newest status                                        |
| use_local_mode                   | not `cross_exchange_active` of the newest status         |
| last good data, last_update_ms   | the newest ok read (a status active with fail_count 0),  |
|                                  | matched to its snapshot in exchange.normalized (same     |
|                                  | values, time = status time - data age): exact times and  |
|                                  | the venues excluded as stale; else from the status alone |
| divergence above the alert level | that ok read's divergence (the alert's own rule)         |
| venues down                      | that snapshot's venues excluded as stale                 |
| DATA_STALE announced             | a DATA_STALE alert after the last RECOVERED              |

Limits: a read whose status was never written (Redis down, refused after the lease moved, or
an API request's read) is not seen; a symbol whose status entries were all trimmed starts
fresh; without the snapshot (trimmed), the last good data's time is the status's, to the
second, and no venue counts as down.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from backend.domains.exits.exit_brain_v3.adjustments import (
    effective_divergence,
    state_from_snapshot,
)
from backend.domains.exits.exit_brain_v3.failsafe import FailSafe
from backend.domains.exits.exit_brain_v3.models import CrossExchangeState, ExitParams
from microservices.common.records import ExitAlert, ExitStatus, NormalizedSnapshot

# a status's time is written to the second: its read happened within this of it
STATUS_TIME_SLACK_MS = 1_000


@dataclass(slots=True)
class Published:
    """What the former owner published about one symbol."""

    newest: ExitStatus
    last_ok: ExitStatus | None = None  # the newest status of an ok read
    stale_announced: bool = False


def fold_published(
    statuses: Iterable[ExitStatus], alerts: Iterable[ExitAlert]
) -> dict[str, Published]:
    """symbol -> what its status and alert entries (each oldest first) say."""
    published: dict[str, Published] = {}
    for status in statuses:
        seen = published.get(status.symbol)
        if seen is None:
            seen = published[status.symbol] = Published(status)
        seen.newest = status
        if status.cross_exchange_active and status.fail_count == 0:  # held reads fail
            seen.last_ok = status
    for alert in alerts:
        seen = published.get(alert.symbol)
        if seen is not None and alert.type in ("DATA_STALE", "RECOVERED"):
            seen.stale_announced = alert.type == "DATA_STALE"
    return published


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)  # statuses carry 12 digits


def _age_ms(status: ExitStatus) -> int:
    return round(status.data_age_seconds * 1000)


def read_of(status: ExitStatus, snap: NormalizedSnapshot) -> bool:
    """Whether `status` reports a read of `snap` (its values, at its age within the second)."""
    read_ms = snap.ts_ms + _age_ms(status)
    return (
        snap.symbol == status.symbol
        and abs(read_ms - status.ts_ms) <= STATUS_TIME_SLACK_MS
        and _same(snap.exchange_divergence, status.exchange_divergence)
        and _same(snap.volatility_factor, status.volatility_factor)
        and _same(snap.funding_delta, status.funding_delta)
    )


def snapshots_read(
    published: dict[str, Published], snapshots: Iterable[NormalizedSnapshot]
) -> dict[str, NormalizedSnapshot]:
    """symbol -> the snapshot its last ok read saw (the newest matching one), when retained."""
    found: dict[str, NormalizedSnapshot] = {}
    for snap in snapshots:
        seen = published.get(snap.symbol)
        if seen is not None and seen.last_ok is not None and read_of(seen.last_ok, snap):
            found[snap.symbol] = snap
    return found


def _last_good(
    ok: ExitStatus, snap: NormalizedSnapshot | None, params: ExitParams
) -> tuple[CrossExchangeState, int]:
    """(the state of the last ok read, its read time)."""
    if snap is not None:
        read_ms = snap.ts_ms + _age_ms(ok)
        state = state_from_snapshot(snap, read_ms, params)
        if state.outcome == "ok":
            return state, read_ms
    state = CrossExchangeState(
        symbol=ok.symbol,
        exchange_divergence=ok.exchange_divergence,
        funding_delta=ok.funding_delta,
        volatility_factor=ok.volatility_factor,
        num_exchanges=0,  # not published; unused once read
        data_age_seconds=ok.data_age_seconds,
        is_stale=False,
        ts_ms=ok.ts_ms - _age_ms(ok),
    )
    return state, ok.ts_ms


def resume(params: ExitParams, published: Published, snap: NormalizedSnapshot | None) -> FailSafe:
    """The fail-safe of one symbol as its former owner left it (see the module docstring)."""
    newest = published.newest
    failsafe = FailSafe(params)
    failsafe.total_reads = newest.total_reads
    failsafe.fail_count = newest.fail_count
    failsafe.use_local_mode = not newest.cross_exchange_active
    stale = published.stale_announced and failsafe.use_local_mode
    if published.last_ok is None:
        failsafe.resume(None, stale_announced=stale, divergence_high=False, down=frozenset())
        return failsafe
    good, failsafe.last_update_ms = _last_good(published.last_ok, snap, params)
    divergence = effective_divergence(good.exchange_divergence, params)
    failsafe.resume(
        good,
        stale_announced=stale,
        divergence_high=divergence > params.divergence_alert,
        down=frozenset(good.down_exchanges),
    )
    return failsafe
