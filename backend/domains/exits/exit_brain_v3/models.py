"""ExitBrain v3 value types: parameters, the cross-exchange view, adjustments, positions, plans.

Frozen slotted dataclasses, no behaviour beyond derived properties. Imports nothing from
`microservices` (the exit domain depends inward only), no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PositionSide = Literal["long", "short"]
# How a read of `exchange.normalized` for one symbol went. "ok": fresh data; "held": the read
# failed but the last good data (younger than stale_after_s, fewer than max_failures
# consecutive failures) is used instead. Every other outcome means local mode.
ReadOutcome = Literal["ok", "held", "stale", "missing", "error", "disabled"]


@dataclass(frozen=True, slots=True)
class ExitParams:
    """Coefficients and fail-safe settings (SPEC 6; defaults from seed 001)."""

    atr_coef: float = 0.6  # atr_multiplier = 1 + atr_coef * volatility_factor
    tp_coef: float = 0.8  # tp_multiplier = 1 + tp_coef * funding_delta (percent per 8 h)
    tp_multiplier_min: float = 0.5  # tp_multiplier is clamped to [min, max]
    tp_multiplier_max: float = 1.5
    sl_coef: float = 0.4  # sl_multiplier = 1 + sl_coef * min(divergence, divergence_cap)
    trailing_max_vol: float = 3.0  # trailing only while volatility_factor < this
    vol_cap: float = 5.0  # volatility_factor is capped here before use
    divergence_cap: float = 1.0  # exchange_divergence (fraction) is capped here before use
    divergence_alert: float = 0.02  # PRICE_DIVERGENCE when exchange_divergence rises above
    stale_after_s: float = 60.0  # data older than this puts the symbol in local mode
    max_failures: int = 3  # consecutive failures that switch to local mode
    default_use_trailing: bool = True  # use_trailing in local mode
    min_tp_pct: float = 0.3  # floor of the TP distance, percent of entry
    min_sl_pct: float = 0.15  # floor of the SL distance, percent of entry
    min_exchanges: int = 2  # a snapshot with fewer venues counts as missing data


@dataclass(frozen=True, slots=True)
class CrossExchangeState:
    """The adapter's view of one symbol's cross-exchange state at read time.

    `outcome` says whether the values can be used ("ok", or "held": the last good values kept
    through a failed read) or the symbol is in local mode, with `reason` saying why
    ("Data stale (67.3s)"). Without data the values are neutral (divergence 0, funding 0,
    volatility 1) and `data_age_seconds` is -1.0 (unknown).
    """

    symbol: str
    exchange_divergence: float  # (max - min) / median across venues, a fraction
    funding_delta: float  # max - min of perp funding, sign of their mean; percent per 8 h
    volatility_factor: float  # short / long realized volatility, as published (uncapped)
    num_exchanges: int
    data_age_seconds: float  # read time - snapshot time; -1.0 when there is no snapshot
    is_stale: bool  # True when no usable snapshot is fresher than stale_after_s
    ts_ms: int  # snapshot time (epoch ms); 0 when there is no snapshot
    outcome: ReadOutcome = "ok"
    reason: str = ""  # why local mode, or why data is held; "" when outcome is "ok"
    down_exchanges: tuple[str, ...] = ()  # venues the aggregator excluded as stale

    @property
    def local_mode(self) -> bool:
        return self.outcome not in ("ok", "held")


@dataclass(frozen=True, slots=True)
class VolatilityAdjustments:
    """Multipliers for one calculation and the base distances they were applied to."""

    atr_multiplier: float
    tp_multiplier: float
    sl_multiplier: float
    use_trailing: bool
    adjusted_atr: float  # base_atr * atr_multiplier
    adjusted_tp: float  # base_tp * tp_multiplier
    adjusted_sl: float  # base_sl * sl_multiplier
    reasoning: str  # "Vol:1.80 Div:0.042 Fund:0.0012 | ATR×2.08 TP×1.00 SL×1.02"
    local_mode: bool  # True: every multiplier is exactly 1.0


@dataclass(frozen=True, slots=True)
class Position:
    """An open (or about to be opened) position; stop/TP are set when revising a plan."""

    symbol: str
    side: PositionSide
    entry_price: float
    current_stop: float | None = None  # the stop resting now; a revision never loosens it
    current_tp: float | None = None


@dataclass(frozen=True, slots=True)
class ExitPlan:
    """TP and SL prices for a position, with the distances and multipliers behind them.

    Percentages are distances from entry in percent of entry (0.5 = 0.5 %). `sl_pct` is the
    distance of the final stop, negative when a kept stop sits on the profit side of entry.
    `trailing_distance_pct` is the trailing distance (the adjusted ATR distance, `atr_pct`),
    None when trailing is off.
    """

    symbol: str
    side: PositionSide
    entry_price: float
    tp_price: float
    sl_price: float
    tp_pct: float
    sl_pct: float
    atr_pct: float
    use_trailing: bool
    trailing_distance_pct: float | None
    atr_multiplier: float
    tp_multiplier: float
    sl_multiplier: float
    local_mode: bool
    stop_kept: bool  # True when the previous/current stop was tighter and was kept
    reasoning: str
    tick_size: float | None = None  # the venue's price step both prices were rounded to
