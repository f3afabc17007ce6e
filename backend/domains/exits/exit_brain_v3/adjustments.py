"""PURE core of the cross-exchange adapter: snapshot -> state -> multipliers.

No I/O, no asyncio, no clock. Imports `microservices.common.records` for the snapshot type
only. The per-symbol fail-safe that decides which state a read leads to is `failsafe.py`.
"""

from __future__ import annotations

import math
from typing import Final

from backend.domains.exits.exit_brain_v3.models import (
    CrossExchangeState,
    ExitParams,
    ReadOutcome,
    VolatilityAdjustments,
)
from microservices.common.records import NormalizedSnapshot

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
