"""PURE core of the cross-exchange adapter: snapshot -> state -> multipliers, and the fail-safe.

No I/O, no asyncio, no clock (`now_ms` is a parameter). Imports `microservices.common.records`
for the snapshot and alert types only. The alert transitions `FailSafe` implements are listed
in its docstring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Final

from backend.domains.exits.exit_brain_v3.models import (
    CrossExchangeState,
    ExitParams,
    ReadOutcome,
    VolatilityAdjustments,
)
from microservices.common.records import AlertType, NormalizedSnapshot

NEUTRAL_VOLATILITY: Final = 1.0
UNKNOWN_AGE_S: Final = -1.0
# funding_delta is in percent per 8 h; a spread beyond 100 % per 8 h is broken data.
MAX_ABS_FUNDING_DELTA: Final = 100.0


def state_from_snapshot(
    snap: NormalizedSnapshot | None, now_ms: int, params: ExitParams, symbol: str = ""
) -> CrossExchangeState:
    """The adapter's view of `snap` read at `now_ms`.

    `snap` None (no entry for the symbol) gives a "missing" state for `symbol`. A snapshot with
    fewer than `params.min_exchanges` venues is "missing" too; one older than
    `params.stale_after_s` (strictly) is "stale". A snapshot from the future has age 0.
    """
    if snap is None:
        return no_data_state(symbol, "missing", f"No cross-exchange data for {symbol}")
    age_s = max(now_ms - snap.ts_ms, 0) / 1000.0
    is_stale = age_s > params.stale_after_s
    outcome: ReadOutcome = "ok"
    reason = ""
    if snap.num_exchanges < params.min_exchanges:
        outcome = "missing"
        reason = (
            f"Only {snap.num_exchanges} exchange(s) for {snap.symbol} (need {params.min_exchanges})"
        )
    elif is_stale:
        outcome = "stale"
        reason = f"Data stale ({age_s:.1f}s)"
    down = tuple(sorted(venue for venue, why in snap.excluded.items() if why == "stale"))
    return CrossExchangeState(
        symbol=snap.symbol,
        exchange_divergence=snap.exchange_divergence,
        funding_delta=snap.funding_delta,
        volatility_factor=snap.volatility_factor,
        num_exchanges=snap.num_exchanges,
        data_age_seconds=age_s,
        is_stale=is_stale,
        ts_ms=snap.ts_ms,
        outcome=outcome,
        reason=reason,
        down_exchanges=down,
    )


def no_data_state(symbol: str, outcome: ReadOutcome, reason: str) -> CrossExchangeState:
    """A local-mode state with neutral values (seed 001's local state), e.g. on a read error."""
    return CrossExchangeState(
        symbol=symbol,
        exchange_divergence=0.0,
        funding_delta=0.0,
        volatility_factor=NEUTRAL_VOLATILITY,
        num_exchanges=0,
        data_age_seconds=UNKNOWN_AGE_S,
        is_stale=True,
        ts_ms=0,
        outcome=outcome,
        reason=reason,
    )


def effective_volatility(volatility_factor: float, params: ExitParams) -> float:
    """volatility_factor capped at `vol_cap`; NaN or negative becomes the neutral 1.0."""
    if math.isnan(volatility_factor) or volatility_factor < 0.0:
        return NEUTRAL_VOLATILITY
    return min(volatility_factor, params.vol_cap)


def effective_divergence(exchange_divergence: float, params: ExitParams) -> float:
    """exchange_divergence capped at `divergence_cap`; NaN or negative becomes 0 (neutral)."""
    if math.isnan(exchange_divergence) or exchange_divergence < 0.0:
        return 0.0
    return min(exchange_divergence, params.divergence_cap)


def effective_funding(funding_delta: float) -> float:
    """funding_delta (percent per 8 h) clamped to [-100, 100]; NaN -> 0 (neutral)."""
    if math.isnan(funding_delta):
        return 0.0
    return max(-MAX_ABS_FUNDING_DELTA, min(funding_delta, MAX_ABS_FUNDING_DELTA))


def _check_base(name: str, value: float) -> None:
    if not math.isfinite(value) or value < 0.0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def tp_multiplier(funding_delta: float, params: ExitParams) -> tuple[float, str]:
    """(tp_multiplier, clamp note): 1 + tp_coef * funding_delta (percent per 8 h), clamped to
    [tp_multiplier_min, tp_multiplier_max]; the note ("" when unclamped) names the clamp.

    E.g. +0.015 -> 1.012 (seed 001); +0.9 -> 1.72 -> 1.5, "TP×1.720 clamped to max 1.50".
    """
    raw = 1.0 + params.tp_coef * effective_funding(funding_delta)
    low, high = params.tp_multiplier_min, params.tp_multiplier_max
    if raw > high:
        return high, f"TP×{raw:.3f} clamped to max {high:.2f}"
    if raw < low:
        return low, f"TP×{raw:.3f} clamped to min {low:.2f}"
    return raw, ""


def _data_multipliers(
    state: CrossExchangeState, params: ExitParams
) -> tuple[float, float, float, bool, str, list[str]]:
    """(atr, tp, sl, use_trailing, reasoning head, reasoning notes) from usable data."""
    vf = effective_volatility(state.volatility_factor, params)
    div = effective_divergence(state.exchange_divergence, params)
    fund = effective_funding(state.funding_delta)
    atr = 1.0 + params.atr_coef * vf
    tp, clamp = tp_multiplier(fund, params)
    sl = 1.0 + params.sl_coef * div
    head = f"Vol:{vf:.2f} Div:{div:.3f} Fund:{fund:.4f}"
    notes = [note for note in (clamp, state.reason) if note]  # reason: why data is held
    return atr, tp, sl, vf < params.trailing_max_vol, head, notes


def compute_multipliers(
    state: CrossExchangeState,
    params: ExitParams,
    *,
    base_atr: float = 1.0,
    base_tp: float = 1.0,
    base_sl: float = 1.0,
) -> VolatilityAdjustments:
    """SPEC 6 multipliers for `state`, applied to the base distances.

    In local mode every multiplier is exactly 1.0 and use_trailing is
    `params.default_use_trailing`. Otherwise (vf capped at vol_cap, divergence at
    divergence_cap): atr = 1 + atr_coef*vf, tp = 1 + tp_coef*funding_delta (percent per 8 h)
    clamped to [tp_multiplier_min, tp_multiplier_max], sl = 1 + sl_coef*divergence,
    use_trailing = vf < trailing_max_vol. `reasoning` names a TP clamp and, for held data,
    why it is held. Raises ValueError when a base is negative or not finite.
    """
    _check_base("base_atr", base_atr)
    _check_base("base_tp", base_tp)
    _check_base("base_sl", base_sl)
    notes: list[str] = []
    if state.local_mode:
        atr = tp = sl = 1.0
        use_trailing = params.default_use_trailing
        head = f"Local mode: {state.reason}"
    else:
        atr, tp, sl, use_trailing, head, notes = _data_multipliers(state, params)
    reasoning = " | ".join([head, f"ATR×{atr:.2f} TP×{tp:.2f} SL×{sl:.2f}", *notes])
    return VolatilityAdjustments(
        atr_multiplier=atr,
        tp_multiplier=tp,
        sl_multiplier=sl,
        use_trailing=use_trailing,
        adjusted_atr=base_atr * atr,
        adjusted_tp=base_tp * tp,
        adjusted_sl=base_sl * sl,
        reasoning=reasoning,
        local_mode=state.local_mode,
    )


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
