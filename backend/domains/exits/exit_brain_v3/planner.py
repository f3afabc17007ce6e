"""PURE exit planning: position + cross-exchange adjustments -> ExitPlan (TP/SL prices).

No I/O, no clock, nothing from `microservices`. Bad input raises ValueError with a message
meant for the user (the API turns it into a 422).
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from backend.domains.exits.exit_brain_v3.models import (
    ExitParams,
    ExitPlan,
    Position,
    PositionSide,
    VolatilityAdjustments,
)

SIDES: tuple[PositionSide, ...] = ("long", "short")
# a price this close to a grid point (in ticks) is on it: 50,000 x 1.011 = 50,549.99999999999
GRID_TOLERANCE = Decimal("1e-9")


def _require_positive(name: str, value: float) -> None:
    if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _validate(
    position: Position,
    adjustments: VolatilityAdjustments,
    base_pcts: dict[str, float],
    previous: ExitPlan | None,
) -> None:
    if position.side not in SIDES:
        raise ValueError(f"side must be 'long' or 'short', got {position.side!r}")
    _require_positive("entry_price", position.entry_price)
    for name, value in base_pcts.items():
        _require_positive(name, value)
    if position.current_stop is not None:
        _require_positive("current_stop", position.current_stop)
    if position.current_tp is not None:
        _require_positive("current_tp", position.current_tp)
    _require_positive("atr_multiplier", adjustments.atr_multiplier)
    _require_positive("tp_multiplier", adjustments.tp_multiplier)
    _require_positive("sl_multiplier", adjustments.sl_multiplier)
    if previous is not None and (
        previous.symbol != position.symbol or previous.side != position.side
    ):
        raise ValueError(
            f"previous plan is for {previous.side} {previous.symbol}, "
            f"not {position.side} {position.symbol}"
        )


def _prices(side: PositionSide, entry: float, tp_pct: float, sl_pct: float) -> tuple[float, float]:
    """(tp_price, sl_price): long TP above / SL below entry, short mirrored."""
    if side == "long":
        if sl_pct >= 100.0:
            raise ValueError(f"SL distance {sl_pct:.2f}% would put a long's stop at or below 0")
        return entry * (1.0 + tp_pct / 100.0), entry * (1.0 - sl_pct / 100.0)
    if tp_pct >= 100.0:
        raise ValueError(f"TP distance {tp_pct:.2f}% would put a short's target at or below 0")
    return entry * (1.0 - tp_pct / 100.0), entry * (1.0 + sl_pct / 100.0)


def round_toward(price: float, tick: float, entry: float) -> float:
    """`price` on the venue's tick grid, rounded toward `entry` (exact decimal arithmetic on
    the shortest decimal forms of both floats; a price within GRID_TOLERANCE ticks of a grid
    point is on it): a TP never asks for more than planned and a stop never ends up looser."""
    steps = Decimal(repr(price)) / Decimal(repr(tick))
    nearest = steps.to_integral_value(ROUND_HALF_EVEN)
    if abs(steps - nearest) <= GRID_TOLERANCE:  # float noise of the multiplications
        whole = nearest
    else:
        whole = steps.to_integral_value(ROUND_FLOOR if price > entry else ROUND_CEILING)
    return float(whole * Decimal(repr(tick)))


def _on_ticks(
    side: PositionSide, entry: float, prices: tuple[float, float], tick: float | None
) -> tuple[float, float]:
    """(tp, sl) rounded toward entry; ValueError when the tick is too coarse to keep them apart
    from entry (the position would be closed at once)."""
    if tick is None:
        return prices
    _require_positive("tick_size", tick)
    tp, sl = (round_toward(price, tick, entry) for price in prices)
    if tp == entry or sl == entry:
        raise ValueError(f"tick size {tick:g} is too coarse for these distances from {entry:g}")
    return tp, sl


def _existing_stop(position: Position, previous: ExitPlan | None) -> float | None:
    """The most protective stop already in force (previous plan, or the resting stop)."""
    stops: list[float] = []
    if position.current_stop is not None:
        stops.append(position.current_stop)
    if previous is not None:
        stops.append(previous.sl_price)
    if not stops:
        return None
    return max(stops) if position.side == "long" else min(stops)


def _is_tighter(side: PositionSide, stop: float, than: float) -> bool:
    return stop > than if side == "long" else stop < than


def _keep_stop(
    position: Position, previous: ExitPlan | None, new_stop: float
) -> tuple[float, str | None]:
    """(stop, note): the new stop, or the existing one when the new one would loosen it."""
    existing = _existing_stop(position, previous)
    if existing is None or not _is_tighter(position.side, existing, new_stop):
        return new_stop, None
    return existing, f"stop kept at {existing:.8g} (new {new_stop:.8g} would loosen it)"


def _describe(label: str, base: float, mult: float, final: float) -> str:
    raw = base * mult
    if final > raw:
        return f"{label} {final:.2f}% (floor; {base:.2f}%×{mult:.2f}={raw:.2f}%)"
    return f"{label} {final:.2f}% ({base:.2f}%×{mult:.2f})"


def build_exit_plan(
    position: Position,
    adjustments: VolatilityAdjustments,
    base_tp_pct: float,
    base_sl_pct: float,
    base_atr_pct: float,
    params: ExitParams,
    previous: ExitPlan | None = None,
    tick_size: float | None = None,
) -> ExitPlan:
    """Apply the multipliers to the base distances (percent of entry) and price TP and SL.

    tp_pct = max(base_tp_pct * tp_mult, min_tp_pct); sl_pct = max(base_sl_pct * sl_mult,
    min_sl_pct); atr_pct = base_atr_pct * atr_mult, also the trailing distance when trailing.
    When revising (`previous` plan, or `position.current_stop`), the stop never loosens: a long
    keeps the higher stop, a short the lower, even if it is closer than min_sl_pct.
    With `tick_size` (the venue's price step) TP and SL are rounded toward entry, before the
    stop is compared with the one in force; the percentages describe the rounded prices.
    """
    base = {"base_tp_pct": base_tp_pct, "base_sl_pct": base_sl_pct, "base_atr_pct": base_atr_pct}
    _validate(position, adjustments, base, previous)
    side, entry = position.side, position.entry_price
    tp_pct = max(base_tp_pct * adjustments.tp_multiplier, params.min_tp_pct)
    sl_pct = max(base_sl_pct * adjustments.sl_multiplier, params.min_sl_pct)
    atr_pct = base_atr_pct * adjustments.atr_multiplier
    tp_price, sl_price = _on_ticks(side, entry, _prices(side, entry, tp_pct, sl_pct), tick_size)
    if tick_size is not None:
        tp_pct, sl_pct = (
            abs(tp_price - entry) / entry * 100.0,
            abs(entry - sl_price) / entry * 100.0,
        )
    parts = [
        f"{side} {position.symbol} @ {entry:.8g}",
        _describe("TP", base_tp_pct, adjustments.tp_multiplier, tp_pct),
        _describe("SL", base_sl_pct, adjustments.sl_multiplier, sl_pct),
        f"ATR {atr_pct:.2f}% ({base_atr_pct:.2f}%×{adjustments.atr_multiplier:.2f})",
    ]
    if tick_size is not None:
        parts.append(f"prices on tick {tick_size:g}")
    sl_price, kept_note = _keep_stop(position, previous, sl_price)
    if kept_note is not None:
        parts.append(kept_note)
        sl_pct = (entry - sl_price if side == "long" else sl_price - entry) / entry * 100.0
    parts.append(f"trailing {atr_pct:.2f}%" if adjustments.use_trailing else "no trailing")
    return ExitPlan(
        symbol=position.symbol,
        side=side,
        entry_price=entry,
        tp_price=tp_price,
        sl_price=sl_price,
        tp_pct=tp_pct,
        sl_pct=sl_pct,
        atr_pct=atr_pct,
        use_trailing=adjustments.use_trailing,
        trailing_distance_pct=atr_pct if adjustments.use_trailing else None,
        atr_multiplier=adjustments.atr_multiplier,
        tp_multiplier=adjustments.tp_multiplier,
        sl_multiplier=adjustments.sl_multiplier,
        local_mode=adjustments.local_mode,
        stop_kept=kept_note is not None,
        reasoning=", ".join(parts) + " | " + adjustments.reasoning,
        tick_size=tick_size,
    )
