"""I/O shell between Cross-Exchange Intelligence and ExitBrain v3 (seed 001's entry point).

Reads the newest `exchange.normalized` entry per symbol (from the symbol's home shard), keeps
one pure `FailSafe` per symbol, and publishes `exitbrain.status` / `exitbrain.alerts` to the
symbol's home shard, through `writer` (the engine passes a fenced one when ExitBrain's shards
are leased: a refused write is dropped, its shard's new owner publishes now). The computation
lives in `adjustments.py`; this module only does Redis I/O and reads the clock (injected).
Redis faults never raise out of it: reads become fail-safe outcomes, publish failures are logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import redis.asyncio as aredis
from redis.exceptions import RedisError

from backend.domains.exits.exit_brain_v3.adjustments import (
    compute_multipliers,
    no_data_state,
    state_from_snapshot,
)
from backend.domains.exits.exit_brain_v3.failsafe import AlertEvent, FailSafe
from backend.domains.exits.exit_brain_v3.latest_snapshot import latest_snapshot
from backend.domains.exits.exit_brain_v3.models import (
    CrossExchangeState,
    ExitParams,
    VolatilityAdjustments,
)
from microservices.common.causes import short_cause
from microservices.common.clock import iso_utc, now_ms
from microservices.common.errors import SchemaError
from microservices.common.records import ExitAlert, ExitStatus
from microservices.common.shard_lease import Fenced
from microservices.common.streams import Stream, Streams

logger = logging.getLogger(__name__)

READ_ERRORS: Final = (RedisError, OSError, SchemaError)
PUBLISH_ERRORS: Final = (RedisError, OSError)
MAX_REASON_CHARS: Final = 200
MAX_PENDING_ALERTS: Final = 100  # alerts kept while Redis is unreachable
# (one shard of a stream, its fields) -> written; raises Fenced when refused
Writer = Callable[[Stream[Any], Mapping[Any, Any]], Awaitable[None]]


class CrossExchangeAdapter:
    """Cross-exchange multipliers for ExitBrain, with the SPEC 6 fail-safe per symbol.

    `enabled=False` (CROSS_EXCHANGE_ENABLED=false) never touches Redis: every state is local.
    `clock` returns epoch milliseconds (tests inject a fake).
    """

    def __init__(
        self,
        redis: aredis.Redis,
        streams: Streams,
        params: ExitParams | None = None,
        enabled: bool = True,
        clock: Callable[[], int] = now_ms,
        writer: Writer | None = None,
    ) -> None:
        self._redis = redis
        self._write = writer or self._plain_xadd
        self._streams = streams
        self.params = params if params is not None else ExitParams()
        self.enabled = enabled
        self._clock = clock
        self._failsafes: dict[str, FailSafe] = {}
        self._publish_failing = False
        self._pending_alerts: deque[ExitAlert] = deque()
        self._flush_lock = asyncio.Lock()  # the loop and API requests publish concurrently
        self.alerts_dropped = 0  # alerts lost because Redis stayed down too long

    def _failsafe(self, symbol: str) -> FailSafe:
        failsafe = self._failsafes.get(symbol)
        if failsafe is None:
            failsafe = self._failsafes[symbol] = FailSafe(self.params)
        return failsafe

    def forget(self, which: Callable[[str], bool]) -> list[str]:
        """Drop the fail-safe state and queued alerts of the symbols `which` selects (a shard
        lost: its new owner is authoritative); the symbols whose state was dropped."""
        gone = [symbol for symbol in self._failsafes if which(symbol)]
        for symbol in gone:
            del self._failsafes[symbol]
        self._pending_alerts = deque(a for a in self._pending_alerts if not which(a.symbol))
        return gone

    def resume(self, failsafes: Mapping[str, FailSafe]) -> None:
        """Take over symbols' fail-safe state (a shard gained: `resume.py`)."""
        self._failsafes.update(failsafes)

    # ------------------------------------------------------------------------------ reading

    async def get_global_volatility_state(self, symbol: str = "BTCUSDT") -> CrossExchangeState:
        """Read `symbol`'s newest normalized snapshot, run the fail-safe, publish its alerts.

        Returns the state to compute with: the fresh read, the last good data held through a
        failed read (outcome "held"), or a local-mode state.
        """
        if not self.enabled:
            return no_data_state(symbol, "disabled", "Cross-exchange disabled")
        try:
            snap = await latest_snapshot(self._redis, self._streams.normalized, symbol)
            now = self._clock()
            state = state_from_snapshot(snap, now, self.params, symbol=symbol)
        except READ_ERRORS as exc:
            now = self._clock()
            reason = f"Read error: {type(exc).__name__}: {exc}"[:MAX_REASON_CHARS]
            state = no_data_state(symbol, "error", reason)
        failsafe = self._failsafe(symbol)
        was_latched = failsafe.latched
        verdict = failsafe.record(state, now)
        self._log_transition(verdict.state, failsafe, was_latched)
        for alert in verdict.alerts:
            await self._publish_alert(symbol, alert, now)
        return verdict.state

    def _log_transition(self, state: CrossExchangeState, failsafe: FailSafe, was: bool) -> None:
        if state.outcome == "held":
            logger.info(
                "exitbrain.data_held", extra={"symbol": state.symbol, "reason": state.reason}
            )
        elif failsafe.latched and not was:
            logger.warning(
                "exitbrain.local_mode_latched",
                extra={
                    "symbol": state.symbol,
                    "fail_count": failsafe.fail_count,
                    "reason": state.reason,
                },
            )
        elif was and not failsafe.latched:
            logger.info("exitbrain.recovered", extra={"symbol": state.symbol})

    # --------------------------------------------------------------------------- computing

    def calculate_adjustments(
        self, state: CrossExchangeState, base_atr: float, base_tp: float, base_sl: float
    ) -> VolatilityAdjustments:
        """Multipliers for `state` applied to the bases (pure; ValueError on bad bases)."""
        return compute_multipliers(
            state, self.params, base_atr=base_atr, base_tp=base_tp, base_sl=base_sl
        )

    async def refresh(
        self,
        symbol: str,
        base_atr: float = 1.0,
        base_tp: float = 1.0,
        base_sl: float = 1.0,
    ) -> VolatilityAdjustments:
        """Read, compute and publish one status entry for `symbol` (the ExitBrain loop's step)."""
        state = await self.get_global_volatility_state(symbol)
        adjustments = self.calculate_adjustments(state, base_atr, base_tp, base_sl)
        await self.publish_status(state, adjustments)
        return adjustments

    # -------------------------------------------------------------------------- publishing

    async def publish_status(
        self, state: CrossExchangeState, adjustments: VolatilityAdjustments
    ) -> None:
        """XADD one `exitbrain.status` entry (no-op when disabled; never raises on Redis)."""
        if not self.enabled:
            return
        failsafe = self._failsafe(state.symbol)
        status = ExitStatus(
            symbol=state.symbol,
            ts_ms=self._clock(),
            cross_exchange_active=not adjustments.local_mode,
            data_age_seconds=state.data_age_seconds,
            volatility_factor=state.volatility_factor,
            exchange_divergence=state.exchange_divergence,
            funding_delta=state.funding_delta,
            atr_multiplier=adjustments.atr_multiplier,
            tp_multiplier=adjustments.tp_multiplier,
            sl_multiplier=adjustments.sl_multiplier,
            use_trailing=adjustments.use_trailing,
            reasoning=adjustments.reasoning,
            total_reads=failsafe.total_reads,
            fail_count=failsafe.fail_count,
        )
        await self._flush_alerts()
        await self._xadd(self._streams.status, status)

    async def _publish_alert(self, symbol: str, event: AlertEvent, ts_ms: int) -> None:
        """Queue the alert and flush the queue: alerts raised while Redis is down are kept
        (bounded, oldest dropped first) and published with their original time later."""
        level = logging.INFO if event.type == "RECOVERED" else logging.WARNING
        logger.log(
            level,
            "exitbrain.alert",
            extra={"symbol": symbol, "type": event.type, "reason": event.reason},
        )
        if len(self._pending_alerts) >= MAX_PENDING_ALERTS:
            self._pending_alerts.popleft()
            self.alerts_dropped += 1
        self._pending_alerts.append(
            ExitAlert(
                symbol=symbol,
                ts_ms=ts_ms,
                type=event.type,
                reason=event.reason,
                fail_count=event.fail_count,
            )
        )
        await self._flush_alerts()

    async def _flush_alerts(self) -> None:
        """Publish queued alerts oldest first; one flusher at a time, so none goes out twice."""
        async with self._flush_lock:
            while self._pending_alerts:
                alert = self._pending_alerts.popleft()
                if not await self._xadd(self._streams.alerts, alert):
                    self._requeue(alert)
                    return

    def _requeue(self, alert: ExitAlert) -> None:
        """Put an unsent alert back at the head, unless newer alerts filled the queue."""
        if len(self._pending_alerts) >= MAX_PENDING_ALERTS:
            self.alerts_dropped += 1
        else:
            self._pending_alerts.appendleft(alert)

    async def _plain_xadd(self, shard: Stream[Any], fields: Mapping[Any, Any]) -> None:
        await self._redis.xadd(shard.name, fields, maxlen=shard.maxlen, approximate=True)  # type: ignore[arg-type]

    async def _xadd(self, stream: Stream[Any], record: Any) -> bool:
        """XADD to the symbol's shard with `MAXLEN ~`; False (logged once per outage) when
        Redis is unreachable; a fenced write is dropped (True: nothing to retry)."""
        shard = stream.shard_for(record.symbol)
        try:
            await self._write(shard, shard.schema.encode(record))
        except Fenced:
            logger.info("exitbrain.fenced", extra={"stream": shard.name})
            return True
        except PUBLISH_ERRORS as exc:
            if not self._publish_failing:
                logger.warning(
                    "exitbrain.publish_failed",
                    extra={"stream": shard.name, "cause": short_cause(exc)},
                )
            self._publish_failing = True
            return False
        if self._publish_failing:
            logger.info("exitbrain.publish_resumed", extra={"stream": shard.name})
        self._publish_failing = False
        return True

    # ------------------------------------------------------------------------------- stats

    def stats(self) -> dict[str, Any]:
        """/health `adapter_stats`, aggregated over symbols.

        use_local_mode: any symbol in local mode (always True when disabled); total_reads:
        sum; fail_count: the largest consecutive-failure count; last_update: newest fresh
        read as ISO 8601 Z, or None.
        """
        failsafes = list(self._failsafes.values())
        updates = [f.last_update_ms for f in failsafes if f.last_update_ms is not None]
        return {
            "enabled": self.enabled,
            "use_local_mode": (not self.enabled) or any(f.use_local_mode for f in failsafes),
            "total_reads": sum(f.total_reads for f in failsafes),
            "fail_count": max((f.fail_count for f in failsafes), default=0),
            "last_update": iso_utc(max(updates)) if updates else None,
        }

    def in_local_mode(self, symbol: str) -> bool:
        """Whether `symbol` is in local (neutral) mode now; True when the integration is off."""
        failsafe = self._failsafes.get(symbol)
        return (not self.enabled) or failsafe is None or failsafe.use_local_mode

    def symbol_stats(self) -> dict[str, dict[str, Any]]:
        """Per-symbol fail-safe state (same fields as `stats`, plus `latched`)."""
        return {
            symbol: {
                "use_local_mode": f.use_local_mode or not self.enabled,
                "latched": f.latched,
                "total_reads": f.total_reads,
                "fail_count": f.fail_count,
                "last_update": None if f.last_update_ms is None else iso_utc(f.last_update_ms),
            }
            for symbol, f in sorted(self._failsafes.items())
        }
