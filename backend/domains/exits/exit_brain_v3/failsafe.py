"""PURE fail-safe of one symbol (SPEC 6): which state each read leads to, and its alerts.

No I/O, no asyncio, no clock (`now_ms` is a parameter). The alert transitions `FailSafe`
implements are listed in its docstring; the states themselves come from `adjustments.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from backend.domains.exits.exit_brain_v3.adjustments import effective_divergence
from backend.domains.exits.exit_brain_v3.models import CrossExchangeState, ExitParams
from microservices.common.records import AlertType


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """An alert a read outcome causes; the shell adds symbol and timestamp."""

    type: AlertType
    reason: str
    fail_count: int


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one read leads to: the state to compute with and the alerts to publish."""

    state: CrossExchangeState  # the read, the held last good data, or a local-mode state
    alerts: tuple[AlertEvent, ...]


class FailSafe:
    """Fail-safe state of one symbol (SPEC 6). Feed it every read with `record`.

    A failed read (error, missing data) counts a failure. While fewer than `max_failures`
    consecutive failures have happened and the last good (ok) data is at most
    `stale_after_s` old, that data is kept ("held": its multipliers, no alert). At
    `max_failures`, without good data young enough, or on a read of stale data, the symbol is
    in local mode until the next fresh read. Alerts are published on transitions only:

    | read outcome               | state before            | alerts (in order)                |
    |----------------------------|-------------------------|----------------------------------|
    | missing / error, data held | fresh or held           | none                             |
    | missing / error, not held  | fresh or held           | FALLBACK_TO_LOCAL                |
    | stale                      | fresh or held           | FALLBACK_TO_LOCAL, DATA_STALE    |
    | stale                      | local, not yet stale    | DATA_STALE                       |
    | any failure                | local otherwise         | none                             |
    | ok                         | local                   | RECOVERED "Fresh data (2.1s)"    |
    | ok, divergence > threshold | divergence was below    | PRICE_DIVERGENCE                 |
    | ok, venue excluded "stale" | venue was not excluded  | EXCHANGE_DOWN (one per venue)    |

    An ok read resets `fail_count` to 0 (held or local before). Divergence and venue alerts
    are evaluated on ok reads only and re-arm when the condition clears on a later ok read.
    """

    __slots__ = (
        "_divergence_high",
        "_down",
        "_last_good",
        "_params",
        "_stale_announced",
        "fail_count",
        "last_update_ms",
        "total_reads",
        "use_local_mode",
    )

    def __init__(self, params: ExitParams) -> None:
        self._params = params
        self.use_local_mode = False
        self.fail_count = 0
        self.total_reads = 0
        self.last_update_ms: int | None = None  # time of the last fresh (ok) read
        self._last_good: CrossExchangeState | None = None
        self._stale_announced = False
        self._divergence_high = False
        self._down: frozenset[str] = frozenset()

    def resume(
        self,
        last_good: CrossExchangeState | None,
        *,
        stale_announced: bool,
        divergence_high: bool,
        down: frozenset[str],
    ) -> None:
        """Take over what a former owner's fail-safe remembered (`resume.py`); the counters
        and `use_local_mode`, `last_update_ms` are set directly."""
        self._last_good = last_good
        self._stale_announced = stale_announced
        self._divergence_high = divergence_high
        self._down = down

    @property
    def latched(self) -> bool:
        """True once max_failures consecutive failures happened (until a fresh read)."""
        return self.fail_count >= self._params.max_failures

    def record(self, state: CrossExchangeState, now_ms: int) -> Verdict:
        """Account one read attempt that produced `state` at `now_ms`."""
        self.total_reads += 1
        if not state.local_mode:
            return Verdict(state, self._record_ok(state, now_ms))
        self.fail_count += 1
        if self.use_local_mode or state.outcome == "stale":
            return Verdict(state, self._fall_back(state, state.reason))
        good = self._last_good
        if good is None:
            return Verdict(state, self._fall_back(state, state.reason))
        age_s = max(now_ms - good.ts_ms, 0) / 1000.0
        if age_s > self._params.stale_after_s:
            return self._local(state, f"Data stale ({age_s:.1f}s), last failure: {state.reason}")
        if self.latched:
            n = self.fail_count
            return self._local(state, f"{n} consecutive failures, last: {state.reason}")
        s = "" if self.fail_count == 1 else "s"
        reason = f"Kept last good data ({age_s:.1f}s) after {self.fail_count} failure{s}: "
        held = replace(good, data_age_seconds=age_s, outcome="held", reason=reason + state.reason)
        return Verdict(held, ())

    def _local(self, state: CrossExchangeState, reason: str) -> Verdict:
        local = replace(state, reason=reason)
        return Verdict(local, self._fall_back(local, reason))

    def _fall_back(self, state: CrossExchangeState, reason: str) -> tuple[AlertEvent, ...]:
        alerts: list[AlertEvent] = []
        if not self.use_local_mode:
            self.use_local_mode = True
            alerts.append(AlertEvent("FALLBACK_TO_LOCAL", reason, self.fail_count))
        if state.outcome == "stale" and not self._stale_announced:
            self._stale_announced = True
            alerts.append(AlertEvent("DATA_STALE", state.reason, self.fail_count))
        return tuple(alerts)

    def _record_ok(self, state: CrossExchangeState, now_ms: int) -> tuple[AlertEvent, ...]:
        alerts: list[AlertEvent] = []
        if self.use_local_mode:
            reason = f"Fresh data ({state.data_age_seconds:.1f}s)"
            alerts.append(AlertEvent("RECOVERED", reason, 0))
        self.use_local_mode = False
        self.fail_count = 0
        self._stale_announced = False
        self.last_update_ms = now_ms
        self._last_good = state
        alerts.extend(self._divergence_alerts(state))
        alerts.extend(self._exchange_alerts(state))
        return tuple(alerts)

    def _divergence_alerts(self, state: CrossExchangeState) -> tuple[AlertEvent, ...]:
        divergence = effective_divergence(state.exchange_divergence, self._params)
        threshold = self._params.divergence_alert
        if divergence <= threshold:
            self._divergence_high = False
            return ()
        if self._divergence_high:
            return ()
        self._divergence_high = True
        reason = f"Exchange divergence {divergence:.3f} above {threshold:.3f} for {state.symbol}"
        return (AlertEvent("PRICE_DIVERGENCE", reason, self.fail_count),)

    def _exchange_alerts(self, state: CrossExchangeState) -> tuple[AlertEvent, ...]:
        newly_down = [venue for venue in state.down_exchanges if venue not in self._down]
        self._down = frozenset(state.down_exchanges)
        return tuple(
            AlertEvent("EXCHANGE_DOWN", f"Exchange {venue} stale, excluded from {state.symbol}", 0)
            for venue in newly_down
        )
