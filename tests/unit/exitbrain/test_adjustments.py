"""Pure core: snapshot -> state, SPEC 6 multipliers, and the fail-safe transitions."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.domains.exits.exit_brain_v3.adjustments import (
    compute_multipliers,
    no_data_state,
    state_from_snapshot,
)
from backend.domains.exits.exit_brain_v3.failsafe import AlertEvent, FailSafe
from backend.domains.exits.exit_brain_v3.models import CrossExchangeState, ExitParams
from tests.unit.exitbrain.helpers import T0, snapshot

PARAMS = ExitParams()


def fresh(
    vf: float = 1.0,
    div: float = 0.01,
    fund: float = 0.0,
    excluded: dict[str, str] | None = None,
    ts_ms: int = T0,
) -> CrossExchangeState:
    """A fresh state of a snapshot taken at `ts_ms`, read 2.1 s later."""
    snap = snapshot(
        ts_ms=ts_ms,
        volatility_factor=vf,
        exchange_divergence=div,
        funding_delta=fund,
        excluded=excluded,
    )
    return state_from_snapshot(snap, ts_ms + 2_100, PARAMS)


# ----------------------------------------------------------------------- state_from_snapshot


def test_fresh_snapshot_state() -> None:
    state = fresh(1.8, 0.042, 0.0012)
    assert state.outcome == "ok"
    assert not state.local_mode
    assert state.data_age_seconds == pytest.approx(2.1)
    assert state.is_stale is False
    assert (state.symbol, state.num_exchanges, state.ts_ms) == ("BTCUSDT", 3, T0)
    assert state.reason == ""


def test_stale_snapshot_state() -> None:
    state = state_from_snapshot(snapshot(), T0 + 67_300, PARAMS)
    assert state.outcome == "stale"
    assert state.is_stale
    assert state.reason == "Data stale (67.3s)"
    assert state.data_age_seconds == pytest.approx(67.3)
    assert state.volatility_factor == 1.0  # the stale values are kept for the status entry


def test_exactly_stale_after_is_still_fresh() -> None:
    assert state_from_snapshot(snapshot(), T0 + 60_000, PARAMS).outcome == "ok"
    assert state_from_snapshot(snapshot(), T0 + 60_001, PARAMS).outcome == "stale"


def test_snapshot_from_the_future_has_age_zero() -> None:
    state = state_from_snapshot(snapshot(), T0 - 500, PARAMS)
    assert state.data_age_seconds == 0.0
    assert state.outcome == "ok"


def test_no_snapshot_is_missing_with_neutral_values() -> None:
    state = state_from_snapshot(None, T0, PARAMS, symbol="SOLUSDT")
    assert state.outcome == "missing"
    assert state.reason == "No cross-exchange data for SOLUSDT"
    assert state.volatility_factor == 1.0
    assert (state.exchange_divergence, state.funding_delta) == (0.0, 0.0)
    assert state.data_age_seconds == -1.0
    assert state.is_stale and state.num_exchanges == 0 and state.ts_ms == 0


def test_single_exchange_snapshot_is_missing() -> None:
    state = state_from_snapshot(snapshot(num_exchanges=1), T0 + 1_000, PARAMS)
    assert state.outcome == "missing"
    assert state.reason == "Only 1 exchange(s) for BTCUSDT (need 2)"


def test_stale_excluded_venues_are_down_outliers_are_not() -> None:
    snap = snapshot(excluded={"okx": "stale", "coinbase": "outlier", "bybit": "stale"})
    assert state_from_snapshot(snap, T0, PARAMS).down_exchanges == ("bybit", "okx")


# ------------------------------------------------------------------------------ multipliers


def test_seed_example_follows_the_spec_formula() -> None:
    # Seed 001's prose says ATR×1.80 for vf 1.8; SPEC 6's formula 1 + 0.6*1.8 gives 2.08.
    adj = compute_multipliers(fresh(1.8, 0.042, 0.0012), PARAMS)
    assert adj.atr_multiplier == pytest.approx(2.08)
    assert adj.tp_multiplier == pytest.approx(1.00096)
    assert adj.sl_multiplier == pytest.approx(1.0168)
    assert adj.use_trailing is True
    assert adj.local_mode is False
    assert adj.reasoning == "Vol:1.80 Div:0.042 Fund:0.0012 | ATR×2.08 TP×1.00 SL×1.02"


@pytest.mark.parametrize(
    ("vf", "div", "fund", "atr", "tp", "sl", "trailing"),
    [
        (1.0, 0.0, 0.0, 1.6, 1.0, 1.0, True),
        (0.0, 0.05, 0.015, 1.0, 1.012, 1.02, True),  # seed: TP×1.012, SL×1.02
        (2.99, 0.5, 0.125, 2.794, 1.1, 1.2, True),
        (3.0, 0.0, 0.0, 2.8, 1.0, 1.0, False),  # trailing needs vf < 3 (strict)
        (9.0, 0.0, 0.0, 4.0, 1.0, 1.0, False),  # vf capped at 5 -> 1 + 0.6*5
        (1.0, 1.5, 0.0, 1.6, 1.0, 1.4, True),  # divergence capped at 1.0
        (1.0, 0.0, -0.125, 1.6, 0.9, 1.0, True),  # negative funding tightens TP
    ],
)
def test_multipliers(
    vf: float, div: float, fund: float, atr: float, tp: float, sl: float, trailing: bool
) -> None:
    adj = compute_multipliers(fresh(vf, div, fund), PARAMS)
    assert adj.atr_multiplier == pytest.approx(atr)
    assert adj.tp_multiplier == pytest.approx(tp)
    assert adj.sl_multiplier == pytest.approx(sl)
    assert adj.use_trailing is trailing


def test_capped_volatility_is_shown_capped_in_reasoning() -> None:
    adj = compute_multipliers(fresh(9.0, 1.5, 0.0), PARAMS)
    assert adj.reasoning == "Vol:5.00 Div:1.000 Fund:0.0000 | ATR×4.00 TP×1.00 SL×1.40"


# funding_delta is in percent per 8 h (SPEC 4): tp = 1 + 0.8 * funding_delta, clamped to 0.5-1.5.


def test_seed_funding_example_widens_tp() -> None:
    # seed 001: funding_delta = +0.015 (longs pay 0.015 %/8h more) -> TP×1.012
    adj = compute_multipliers(fresh(1.0, 0.01, 0.015), PARAMS)
    assert adj.tp_multiplier == pytest.approx(1.012)
    assert adj.reasoning == "Vol:1.00 Div:0.010 Fund:0.0150 | ATR×1.60 TP×1.01 SL×1.00"


def test_negative_funding_tightens_tp() -> None:
    # venues at -0.01 and -0.05 %/8h -> funding_delta -0.04 -> 1 - 0.032
    adj = compute_multipliers(fresh(1.0, 0.01, -0.04), PARAMS)
    assert adj.tp_multiplier == pytest.approx(0.968)
    assert adj.reasoning == "Vol:1.00 Div:0.010 Fund:-0.0400 | ATR×1.60 TP×0.97 SL×1.00"


@pytest.mark.parametrize(
    ("fund", "tp", "note"),
    [
        (0.9, 1.5, "TP×1.720 clamped to max 1.50"),  # 1 + 0.8*0.9 = 1.72
        (-1.0, 0.5, "TP×0.200 clamped to min 0.50"),  # 1 - 0.8 = 0.2
        (3.0, 1.5, "TP×3.400 clamped to max 1.50"),  # 1 + 2.4
    ],
)
def test_large_funding_delta_clamps_tp_and_says_so(fund: float, tp: float, note: str) -> None:
    adj = compute_multipliers(fresh(1.0, 0.01, fund), PARAMS, base_tp=2.0)
    assert adj.tp_multiplier == tp
    assert adj.adjusted_tp == 2.0 * tp
    assert adj.reasoning == (
        f"Vol:1.00 Div:0.010 Fund:{fund:.4f} | ATR×1.60 TP×{tp:.2f} SL×1.00 | {note}"
    )


def test_tp_clamp_range_is_a_parameter() -> None:
    params = ExitParams(tp_multiplier_min=0.9, tp_multiplier_max=1.1)
    assert compute_multipliers(fresh(fund=0.25), params).tp_multiplier == 1.1  # raw 1.2
    assert compute_multipliers(fresh(fund=-0.25), params).tp_multiplier == 0.9  # raw 0.8
    unclamped = compute_multipliers(fresh(fund=0.1), params)  # raw 1.08
    assert unclamped.tp_multiplier == pytest.approx(1.08)
    assert "clamped" not in unclamped.reasoning


def _raw_state(vf: float, div: float, fund: float) -> CrossExchangeState:
    return CrossExchangeState("BTCUSDT", div, fund, vf, 3, 1.0, False, T0)


@pytest.mark.parametrize(
    ("vf", "div", "fund", "atr", "tp", "sl"),
    [
        (math.nan, math.nan, math.nan, 1.6, 1.0, 1.0),  # NaN -> neutral inputs
        (-2.0, -0.3, 0.0, 1.6, 1.0, 1.0),  # negative vf/divergence -> neutral
        (math.inf, math.inf, math.inf, 4.0, 1.5, 1.4),  # caps (TP clamped to 1.5)
    ],
)
def test_broken_inputs_are_clamped(
    vf: float, div: float, fund: float, atr: float, tp: float, sl: float
) -> None:
    adj = compute_multipliers(_raw_state(vf, div, fund), PARAMS)
    multipliers = (adj.atr_multiplier, adj.tp_multiplier, adj.sl_multiplier)
    assert multipliers == pytest.approx((atr, tp, sl))


def test_bases_are_multiplied() -> None:
    state = fresh(1.8, 0.05, 0.125)
    adj = compute_multipliers(state, PARAMS, base_atr=0.02, base_tp=1.5, base_sl=0.5)
    assert adj.adjusted_atr == pytest.approx(0.0416)
    assert adj.adjusted_tp == pytest.approx(1.65)
    assert adj.adjusted_sl == pytest.approx(0.51)


@pytest.mark.parametrize("bad", [-0.1, math.nan, math.inf])
def test_bad_base_raises(bad: float) -> None:
    with pytest.raises(ValueError, match="base_tp must be a finite number >= 0"):
        compute_multipliers(fresh(), PARAMS, base_tp=bad)


def test_local_mode_is_exactly_neutral() -> None:
    stale = state_from_snapshot(snapshot(volatility_factor=4.0), T0 + 67_300, PARAMS)
    adj = compute_multipliers(stale, PARAMS, base_atr=0.02, base_tp=1.5, base_sl=0.5)
    assert (adj.atr_multiplier, adj.tp_multiplier, adj.sl_multiplier) == (1.0, 1.0, 1.0)
    assert (adj.adjusted_atr, adj.adjusted_tp, adj.adjusted_sl) == (0.02, 1.5, 0.5)
    assert adj.use_trailing is True  # the default, although vf 4 would disable trailing
    assert adj.local_mode is True
    assert adj.reasoning == "Local mode: Data stale (67.3s) | ATR×1.00 TP×1.00 SL×1.00"


def test_local_mode_uses_default_trailing_setting() -> None:
    params = ExitParams(default_use_trailing=False)
    adj = compute_multipliers(no_data_state("BTCUSDT", "error", "Read error: x"), params)
    assert adj.use_trailing is False
    assert adj.reasoning == "Local mode: Read error: x | ATR×1.00 TP×1.00 SL×1.00"


@given(
    vf=st.floats(allow_nan=True, allow_infinity=True),
    div=st.floats(allow_nan=True, allow_infinity=True),
    fund=st.floats(allow_nan=True, allow_infinity=True),
)
def test_multipliers_always_within_bounds(vf: float, div: float, fund: float) -> None:
    adj = compute_multipliers(_raw_state(vf, div, fund), PARAMS)
    assert 1.0 <= adj.atr_multiplier <= 4.0
    assert 0.5 <= adj.tp_multiplier <= 1.5
    assert 1.0 <= adj.sl_multiplier <= 1.4
    assert adj.use_trailing is (adj.atr_multiplier < 1.0 + 0.6 * 3.0)


# -------------------------------------------------------------------------------- FailSafe

STALE = state_from_snapshot(snapshot(), T0 + 67_300, PARAMS)


MISSING = no_data_state("BTCUSDT", "missing", "No cross-exchange data for BTCUSDT")
ERROR = no_data_state("BTCUSDT", "error", "Read error: ConnectionError: refused")


def record(fs: FailSafe, state: CrossExchangeState, now_ms: int) -> tuple[AlertEvent, ...]:
    """The alerts of one read."""
    return fs.record(state, now_ms).alerts


def test_fresh_read_causes_no_alert() -> None:
    fs = FailSafe(PARAMS)
    assert record(fs, fresh(), T0 + 2_100) == ()
    assert (fs.use_local_mode, fs.fail_count, fs.total_reads, fs.last_update_ms) == (
        False,
        0,
        1,
        T0 + 2_100,
    )


def test_going_stale_alerts_once() -> None:
    fs = FailSafe(PARAMS)
    record(fs, fresh(), T0 + 2_100)
    assert record(fs, STALE, T0 + 67_300) == (
        AlertEvent("FALLBACK_TO_LOCAL", "Data stale (67.3s)", 1),
        AlertEvent("DATA_STALE", "Data stale (67.3s)", 1),
    )
    assert record(fs, STALE, T0 + 72_300) == ()
    assert record(fs, STALE, T0 + 77_300) == ()
    assert (fs.use_local_mode, fs.fail_count, fs.latched, fs.total_reads) == (True, 3, True, 4)
    assert fs.last_update_ms == T0 + 2_100


def test_errors_then_stale_announces_staleness_once() -> None:
    fs = FailSafe(PARAMS)
    assert record(fs, ERROR, T0) == (AlertEvent("FALLBACK_TO_LOCAL", ERROR.reason, 1),)
    assert record(fs, MISSING, T0) == ()
    assert record(fs, STALE, T0) == (AlertEvent("DATA_STALE", "Data stale (67.3s)", 3),)
    assert record(fs, ERROR, T0) == ()
    assert record(fs, STALE, T0) == ()


def test_recovery_before_and_after_max_failures() -> None:
    fs = FailSafe(PARAMS)
    record(fs, ERROR, T0)
    assert not fs.latched
    assert record(fs, fresh(), T0 + 2_100) == (AlertEvent("RECOVERED", "Fresh data (2.1s)", 0),)
    assert (fs.use_local_mode, fs.fail_count) == (False, 0)
    for _ in range(5):
        record(fs, ERROR, T0 + 3_000)
    assert fs.latched and fs.use_local_mode and fs.fail_count == 5
    assert record(fs, fresh(), T0 + 4_000) == (AlertEvent("RECOVERED", "Fresh data (2.1s)", 0),)
    assert (fs.use_local_mode, fs.fail_count, fs.latched) == (False, 0, False)
    assert fs.last_update_ms == T0 + 4_000


def test_stale_again_after_recovery_alerts_again() -> None:
    fs = FailSafe(PARAMS)
    record(fs, STALE, T0)
    record(fs, fresh(), T0)
    types = [a.type for a in record(fs, STALE, T0)]
    assert types == ["FALLBACK_TO_LOCAL", "DATA_STALE"]


def test_price_divergence_alerts_on_crossing_only() -> None:
    fs = FailSafe(PARAMS)
    assert record(fs, fresh(div=0.02), T0) == ()  # at the threshold: not above
    assert record(fs, fresh(div=0.05), T0) == (
        AlertEvent("PRICE_DIVERGENCE", "Exchange divergence 0.050 above 0.020 for BTCUSDT", 0),
    )
    assert record(fs, fresh(div=0.08), T0) == ()
    assert record(fs, STALE, T0) != ()  # failures do not re-arm the divergence alert
    assert [a.type for a in record(fs, fresh(div=0.06), T0)] == ["RECOVERED"]
    assert record(fs, fresh(div=0.01), T0) == ()
    assert [a.type for a in record(fs, fresh(div=0.03), T0)] == ["PRICE_DIVERGENCE"]


def test_exchange_down_alerts_once_per_venue() -> None:
    fs = FailSafe(PARAMS)
    bybit = fresh(excluded={"bybit": "stale"})
    both = fresh(excluded={"bybit": "stale", "okx": "stale"})
    assert record(fs, bybit, T0) == (
        AlertEvent("EXCHANGE_DOWN", "Exchange bybit stale, excluded from BTCUSDT", 0),
    )
    assert record(fs, bybit, T0) == ()
    assert [a.reason for a in record(fs, both, T0)] == ["Exchange okx stale, excluded from BTCUSDT"]
    assert record(fs, fresh(), T0) == ()
    assert len(record(fs, bybit, T0)) == 1


# ------------------------------------------------------------- 3-failure latch (SPEC 6)

GOOD = fresh(1.8, 0.01, 0.015)  # snapshot at T0, read at T0 + 2.1 s


def test_first_two_failures_keep_the_last_good_data_without_alert() -> None:
    fs = FailSafe(PARAMS)
    good_adj = compute_multipliers(fs.record(GOOD, T0 + 2_100).state, PARAMS)
    first = fs.record(ERROR, T0 + 7_100)
    assert first.alerts == ()
    assert (first.state.outcome, first.state.local_mode) == ("held", False)
    assert first.state.data_age_seconds == pytest.approx(7.1)
    assert (first.state.volatility_factor, first.state.funding_delta) == (1.8, 0.015)
    assert first.state.reason == (
        "Kept last good data (7.1s) after 1 failure: Read error: ConnectionError: refused"
    )
    adj = compute_multipliers(first.state, PARAMS)
    kept = (adj.atr_multiplier, adj.tp_multiplier, adj.sl_multiplier, adj.use_trailing)
    assert kept == (
        good_adj.atr_multiplier,
        good_adj.tp_multiplier,
        good_adj.sl_multiplier,
        good_adj.use_trailing,
    )
    assert kept == pytest.approx((2.08, 1.012, 1.004, True))  # 1+0.6*1.8, 1+0.8*0.015, 1+0.4*0.01
    assert adj.local_mode is False
    assert adj.reasoning == (
        "Vol:1.80 Div:0.010 Fund:0.0150 | ATR×2.08 TP×1.01 SL×1.00 | "
        "Kept last good data (7.1s) after 1 failure: Read error: ConnectionError: refused"
    )
    second = fs.record(MISSING, T0 + 12_100)
    assert second.alerts == ()
    assert second.state.outcome == "held"
    assert second.state.reason == (
        "Kept last good data (12.1s) after 2 failures: No cross-exchange data for BTCUSDT"
    )
    assert compute_multipliers(second.state, PARAMS).tp_multiplier == pytest.approx(1.012)
    assert (fs.fail_count, fs.use_local_mode, fs.latched) == (2, False, False)
    assert fs.last_update_ms == T0 + 2_100


def test_third_failure_switches_to_local_with_exactly_one_alert() -> None:
    fs = FailSafe(PARAMS)
    fs.record(GOOD, T0 + 2_100)
    fs.record(ERROR, T0 + 7_100)
    fs.record(ERROR, T0 + 12_100)
    third = fs.record(ERROR, T0 + 17_100)
    reason = "3 consecutive failures, last: Read error: ConnectionError: refused"
    assert third.alerts == (AlertEvent("FALLBACK_TO_LOCAL", reason, 3),)
    assert third.state.local_mode is True
    assert third.state.reason == reason
    adj = compute_multipliers(third.state, PARAMS)
    assert (adj.atr_multiplier, adj.tp_multiplier, adj.sl_multiplier) == (1.0, 1.0, 1.0)
    assert adj.reasoning == f"Local mode: {reason} | ATR×1.00 TP×1.00 SL×1.00"
    assert (fs.fail_count, fs.use_local_mode, fs.latched) == (3, True, True)
    for now in (T0 + 22_100, T0 + 27_100):  # stays local, alerts nothing more
        later = fs.record(MISSING, now)
        assert later.alerts == ()
        assert later.state.local_mode is True
    assert fs.fail_count == 5


def test_stale_read_switches_immediately_even_with_good_data() -> None:
    fs = FailSafe(PARAMS)
    fs.record(GOOD, T0 + 2_100)
    stale = fs.record(STALE, T0 + 67_300)  # the newest entry itself is 67.3 s old
    assert stale.alerts == (
        AlertEvent("FALLBACK_TO_LOCAL", "Data stale (67.3s)", 1),
        AlertEvent("DATA_STALE", "Data stale (67.3s)", 1),
    )
    assert stale.state.local_mode is True


def test_held_data_older_than_60s_switches_to_local() -> None:
    fs = FailSafe(PARAMS)
    fs.record(GOOD, T0 + 2_100)
    assert fs.record(ERROR, T0 + 60_000).state.outcome == "held"  # exactly 60 s: still good
    expired = fs.record(ERROR, T0 + 61_000)  # second failure, but the data is 61 s old
    reason = "Data stale (61.0s), last failure: Read error: ConnectionError: refused"
    assert expired.alerts == (AlertEvent("FALLBACK_TO_LOCAL", reason, 2),)
    assert expired.state.local_mode is True
    assert fs.record(ERROR, T0 + 62_000).alerts == ()


def test_failure_without_any_good_data_switches_at_once() -> None:
    fs = FailSafe(PARAMS)
    verdict = fs.record(ERROR, T0)
    assert verdict.alerts == (AlertEvent("FALLBACK_TO_LOCAL", ERROR.reason, 1),)
    assert verdict.state.local_mode is True


def test_recovery_publishes_recovered_once_and_resets_the_count() -> None:
    fs = FailSafe(PARAMS)
    fs.record(GOOD, T0 + 2_100)
    for now in (T0 + 7_100, T0 + 12_100, T0 + 17_100):
        fs.record(ERROR, now)
    back = fresh(ts_ms=T0 + 20_000)
    recovered = fs.record(back, T0 + 22_100)
    assert recovered.alerts == (AlertEvent("RECOVERED", "Fresh data (2.1s)", 0),)
    assert recovered.state is back
    assert (fs.fail_count, fs.use_local_mode, fs.latched) == (0, False, False)
    assert fs.record(fresh(ts_ms=T0 + 25_000), T0 + 27_100).alerts == ()
    # the count starts again from 0: two more failures are held, the third switches
    assert fs.record(ERROR, T0 + 30_000).state.outcome == "held"
    assert fs.record(ERROR, T0 + 31_000).state.outcome == "held"
    assert [a.type for a in fs.record(ERROR, T0 + 32_000).alerts] == ["FALLBACK_TO_LOCAL"]


def test_fresh_read_after_held_failures_resets_without_alert() -> None:
    fs = FailSafe(PARAMS)
    fs.record(GOOD, T0 + 2_100)
    fs.record(ERROR, T0 + 7_100)
    fs.record(ERROR, T0 + 12_100)
    assert fs.record(fresh(), T0 + 14_100).alerts == ()  # never left: nothing to recover
    assert fs.fail_count == 0
