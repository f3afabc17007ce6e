"""Planner: TP/SL prices for long and short, floors, never-loosen revisions, bad input."""

from __future__ import annotations

import dataclasses
import math

import pytest

from backend.domains.exits.exit_brain_v3.adjustments import compute_multipliers, state_from_snapshot
from backend.domains.exits.exit_brain_v3.models import (
    ExitParams,
    ExitPlan,
    Position,
    VolatilityAdjustments,
)
from backend.domains.exits.exit_brain_v3.planner import build_exit_plan
from tests.unit.exitbrain.helpers import T0, snapshot

PARAMS = ExitParams()


def adjustments(vf: float = 1.8, div: float = 0.05, fund: float = 0.125) -> VolatilityAdjustments:
    """Default: ATR×2.08, TP×1.10, SL×1.02."""
    snap = snapshot(volatility_factor=vf, exchange_divergence=div, funding_delta=fund)
    return compute_multipliers(state_from_snapshot(snap, T0, PARAMS), PARAMS)


def plan(
    position: Position,
    adj: VolatilityAdjustments | None = None,
    *,
    tp: float = 1.0,
    sl: float = 0.5,
    atr: float = 1.0,
    previous: ExitPlan | None = None,
) -> ExitPlan:
    return build_exit_plan(position, adj or adjustments(), tp, sl, atr, PARAMS, previous)


LONG = Position("BTCUSDT", "long", 50_000.0)
SHORT = Position("ETHUSDT", "short", 2_000.0)


def test_long_plan() -> None:
    p = plan(LONG)
    assert p.tp_pct == pytest.approx(1.1)
    assert p.sl_pct == pytest.approx(0.51)
    assert p.atr_pct == pytest.approx(2.08)
    assert p.tp_price == pytest.approx(50_550.0)
    assert p.sl_price == pytest.approx(49_745.0)
    assert p.use_trailing is True
    assert p.trailing_distance_pct == pytest.approx(2.08)
    assert (p.symbol, p.side, p.entry_price, p.stop_kept, p.local_mode) == (
        "BTCUSDT",
        "long",
        50_000.0,
        False,
        False,
    )
    assert p.reasoning == (
        "long BTCUSDT @ 50000, TP 1.10% (1.00%×1.10), SL 0.51% (0.50%×1.02), "
        "ATR 2.08% (1.00%×2.08), trailing 2.08% "
        "| Vol:1.80 Div:0.050 Fund:0.1250 | ATR×2.08 TP×1.10 SL×1.02"
    )


def test_short_plan_is_mirrored() -> None:
    p = plan(SHORT)
    assert p.tp_price == pytest.approx(1_978.0)
    assert p.sl_price == pytest.approx(2_010.2)
    assert (p.tp_pct, p.sl_pct) == pytest.approx((1.1, 0.51))


def test_no_trailing_in_extreme_volatility() -> None:
    p = plan(LONG, adjustments(vf=4.0))
    assert p.use_trailing is False
    assert p.trailing_distance_pct is None
    assert p.atr_pct == pytest.approx(3.4)
    assert "no trailing" in p.reasoning


def test_minimum_tp_and_sl_floors() -> None:
    neutral = adjustments(vf=0.0, div=0.0, fund=0.0)
    p = plan(Position("BTCUSDT", "long", 100.0), neutral, tp=0.2, sl=0.1)
    assert (p.tp_pct, p.sl_pct) == (0.3, 0.15)
    assert p.tp_price == pytest.approx(100.3)
    assert p.sl_price == pytest.approx(99.85)
    assert "TP 0.30% (floor; 0.20%×1.00=0.20%)" in p.reasoning
    assert "SL 0.15% (floor; 0.10%×1.00=0.10%)" in p.reasoning
    s = plan(Position("BTCUSDT", "short", 100.0), neutral, tp=0.2, sl=0.1)
    assert (s.tp_price, s.sl_price) == pytest.approx((99.7, 100.15))


def test_revision_never_loosens_a_long_stop() -> None:
    first = plan(LONG)  # stop 49745
    wider = plan(LONG, adjustments(div=0.5), previous=first)  # would be 0.5*1.2 = 0.6% -> 49700
    assert wider.stop_kept is True
    assert wider.sl_price == pytest.approx(49_745.0)
    assert wider.sl_pct == pytest.approx(0.51)
    assert "stop kept at 49745 (new 49700 would loosen it)" in wider.reasoning
    tighter = plan(LONG, adjustments(div=0.0), previous=wider)  # 0.5% -> 49750
    assert tighter.stop_kept is False
    assert tighter.sl_price == pytest.approx(49_750.0)


def test_revision_never_loosens_a_short_stop() -> None:
    first = plan(SHORT)  # stop 2010.2
    wider = plan(SHORT, adjustments(div=0.5), previous=first)  # would be 2012
    assert wider.sl_price == pytest.approx(2_010.2)
    assert wider.stop_kept is True
    tighter = plan(SHORT, adjustments(div=0.0), previous=wider)  # 2010
    assert tighter.sl_price == pytest.approx(2_010.0)


def test_resting_stop_is_never_loosened_even_in_profit() -> None:
    moved = Position("BTCUSDT", "long", 50_000.0, current_stop=50_100.0)
    p = plan(moved)
    assert p.sl_price == 50_100.0
    assert p.sl_pct == pytest.approx(-0.2)  # negative: the stop sits on the profit side
    assert p.stop_kept is True
    short = plan(Position("ETHUSDT", "short", 2_000.0, current_stop=2_004.0))
    assert short.sl_price == 2_004.0
    assert short.sl_pct == pytest.approx(0.2)


def test_local_mode_plan_uses_base_distances() -> None:
    state = state_from_snapshot(None, T0, PARAMS, symbol="BTCUSDT")
    p = plan(LONG, compute_multipliers(state, PARAMS))
    assert p.local_mode is True
    assert (p.tp_pct, p.sl_pct, p.atr_pct) == (1.0, 0.5, 1.0)
    assert p.reasoning.endswith(
        "| Local mode: No cross-exchange data for BTCUSDT | ATR×1.00 TP×1.00 SL×1.00"
    )


@pytest.mark.parametrize(
    ("position", "kwargs", "message"),
    [
        (Position("BTCUSDT", "long", 0.0), {}, "entry_price must be a finite number > 0"),
        (Position("BTCUSDT", "long", -5.0), {}, "entry_price must be"),
        (Position("BTCUSDT", "long", math.nan), {}, "entry_price must be"),
        (Position("BTCUSDT", "long", math.inf), {}, "entry_price must be"),
        (Position("BTCUSDT", "buy", 100.0), {}, "side must be 'long' or 'short', got 'buy'"),  # type: ignore[arg-type]
        (LONG, {"tp": 0.0}, "base_tp_pct must be a finite number > 0"),
        (LONG, {"sl": -1.0}, "base_sl_pct must be"),
        (LONG, {"atr": math.nan}, "base_atr_pct must be"),
        (LONG, {"sl": 99.0}, "would put a long's stop at or below 0"),
        (SHORT, {"tp": 95.0}, "would put a short's target at or below 0"),
        (Position("BTCUSDT", "long", 100.0, current_stop=0.0), {}, "current_stop must be"),
    ],
)
def test_bad_input_raises_value_error(
    position: Position, kwargs: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        plan(position, **kwargs)  # type: ignore[arg-type]


def test_previous_plan_of_another_position_is_rejected() -> None:
    with pytest.raises(ValueError, match="previous plan is for long BTCUSDT, not short ETHUSDT"):
        plan(SHORT, previous=plan(LONG))


# ------------------------------------------------------------------- venue tick sizes


def ticked(position: Position, tick: float, previous: ExitPlan | None = None) -> ExitPlan:
    return build_exit_plan(position, adjustments(), 1.0, 0.5, 1.0, PARAMS, previous, tick)


def test_long_prices_round_toward_entry() -> None:
    # TP 50,550 = 7,221.43 ticks of 7 -> 7,221 (50,547, below); SL 49,745 = 7,106.43 ticks ->
    # 7,107 (49,749, above): both closer to entry, so the stop is tighter, never looser
    p = ticked(LONG, 7.0)
    assert (p.tp_price, p.sl_price, p.tick_size) == (50_547.0, 49_749.0, 7.0)
    assert p.tp_pct == pytest.approx(547 / 500)
    assert p.sl_pct == pytest.approx(251 / 500)
    assert "prices on tick 7" in p.reasoning


def test_short_prices_round_toward_entry() -> None:
    # short 2,000: TP 1,978.0 is on the 0.25 grid; SL 2,010.2 -> 2,010.0 (down, toward entry)
    p = ticked(SHORT, 0.25)
    assert (p.tp_price, p.sl_price) == (1_978.0, 2_010.0)
    # on a 0.3 grid TP 1,978.0 = 6,593.3 ticks -> 6,594 (1,978.2, up toward entry)
    assert ticked(SHORT, 0.3).tp_price == pytest.approx(1_978.2)


def test_prices_already_on_the_grid_stay_exact() -> None:
    # 50,000 x 1.011 is 50,549.99999999999 in floats: that is on the grid, not a tick below
    p = ticked(LONG, 0.1)
    assert (p.tp_price, p.sl_price) == (50_550.0, 49_745.0)


def test_a_kept_stop_still_wins_over_a_rounded_new_one() -> None:
    previous = ticked(LONG, 7.0)
    tighter = dataclasses.replace(previous, sl_price=49_800.0)
    p = ticked(LONG, 7.0, previous=tighter)
    assert p.sl_price == 49_800.0 and p.stop_kept is True


def test_a_tick_too_coarse_for_the_distances_is_refused() -> None:
    # SL 0.51 % of 100 = 99.49 rounds up to 100 = entry: the stop would fire at once
    with pytest.raises(ValueError, match="too coarse"):
        ticked(Position("XUSDT", "long", 100.0), 1.0)
    with pytest.raises(ValueError, match="tick_size"):
        ticked(LONG, 0.0)
