"""Planner: TP/SL prices for long and short, floors, never-loosen revisions, bad input."""

from __future__ import annotations

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
