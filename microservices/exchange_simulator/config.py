"""Simulator configuration: frozen dataclasses, validated at construction.

The command-line flags that build them are `cli_args.py`. Imports nothing from the simulator;
venue lists and per-venue defaults come from the exchange registry (`venue_defaults.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Final, Literal

from microservices.exchange_simulator.naming import is_sim_symbol
from microservices.exchange_simulator.venue_defaults import (
    default_basis,
    default_funding,
    default_oi_shares,
    default_perp_venues,
    default_volume_shares,
    market_venues,
    url_venues,
)

MALFORMED_KINDS: Final = ("invalid_json", "nan_price", "negative_price", "unknown_topic", "binary")
AfterReplay = Literal["synthetic", "idle", "close"]
DropMode = Literal["close", "abort"]


@dataclass(frozen=True, slots=True)
class MarketConfig:
    """The synthetic market: one true price per symbol, seen by every venue with a basis."""

    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
    seed: int = 1
    volatility: float = 0.6  # annualized volatility of the true price (0.6 = 60 %)
    correlation: float = 0.7  # correlation of log returns between symbols, in [0, 1)
    rate: float = 20.0  # market events (trades + quote changes) per second per symbol per venue
    trade_share: float = 0.5  # fraction of events that are trades
    spread_bps: float = 0.2  # quoted spread; never less than one tick
    noise_bps: float = 0.5  # sd of each venue's own noise (clipped at 3 sd)
    basis_bps: Mapping[str, float] = field(default_factory=default_basis)
    divergence_bps: float = 0.0  # peak extra drift of `divergence_venue` (sine, see period)
    divergence_venue: str = "coinbase"
    divergence_period_s: float = 600.0
    funding_rates: Mapping[str, float] = field(default_factory=default_funding)
    # "venue:SYMBOL" -> hours between settlements where not 8 (e.g. Binance's 4 h symbols)
    funding_intervals_h: Mapping[str, int] = field(default_factory=dict)
    liquidations_per_min: float = 6.0  # per symbol per perp venue
    history_minutes: int = 1000  # 1m bars of synthetic history before the start
    start_prices: Mapping[str, float] = field(default_factory=dict)
    # per market venue, from its exchange package: relative traded volume and open interest,
    # and which venues are perps (mark prices, funding, liquidations)
    volume_shares: Mapping[str, float] = field(default_factory=default_volume_shares)
    oi_shares: Mapping[str, float] = field(default_factory=default_oi_shares)
    perp_venues: frozenset[str] = field(default_factory=default_perp_venues)

    def __post_init__(self) -> None:
        unknown = [s for s in self.symbols if not is_sim_symbol(s)]
        if unknown or not self.symbols:
            raise ValueError(f"symbols must be BASE+USDT names, got: {unknown or self.symbols}")
        if self.rate < 0 or self.volatility < 0 or not 0 <= self.trade_share <= 1:
            raise ValueError("rate and volatility must be >= 0, trade_share within [0, 1]")
        if not 0 <= self.correlation < 1:
            raise ValueError("correlation must be within [0, 1)")
        known = market_venues()
        bad = [v for v in (*self.basis_bps, *self.funding_rates) if v not in known]
        if bad or (self.divergence_venue and self.divergence_venue not in known):
            raise ValueError(f"unknown market venue in basis/funding/divergence: {bad}")
        for key, hours in self.funding_intervals_h.items():
            venue, _, symbol = key.partition(":")
            if venue not in known or symbol not in self.symbols or not 1 <= hours <= 24:
                raise ValueError(f"bad funding interval {key}={hours} (VENUE:SYMBOL=1..24)")
        if self.history_minutes < 1 or self.divergence_period_s <= 0:
            raise ValueError("history_minutes and divergence_period_s must be positive")


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Fault injection for one venue (or all). Zero/None everywhere means a healthy venue."""

    drop_every: int = 0  # close each connection after this many market-data frames
    drop_mode: DropMode = "close"  # "close": close frame 1001; "abort": TCP reset, no close frame
    silence_after: int | None = None  # go silent after this many data frames (0 = at once)
    silence_for_s: float | None = None  # how long; None = until the connection ends
    malformed_rate: float = 0.0  # probability that a data frame is replaced by a malformed one
    malformed_kinds: tuple[str, ...] = MALFORMED_KINDS
    latency_ms: float = 0.0  # added to every WS send and REST response
    rate_limit_burst: int = 0  # answer this many requests with 429 (armed at start/update)
    rate_limit_every: int = 0  # re-arm the 429 burst after this many accepted requests
    retry_after_s: int = 2  # Retry-After of a 429
    ban_after_violations: int = 2  # requests inside a Retry-After window before a 418 (Binance)
    ban_s: int = 120  # Retry-After of a 418 ban
    ban_burst: int = 0  # ban at once (418 for ban_s) this many times; venues with bans only
    server_error_burst: int = 0  # answer this many requests with 503 (armed at start/update)
    server_error_every: int = 0  # re-arm the 5xx burst after this many accepted requests
    clock_skew_ms: float = 0.0  # the venue's clock minus ours, in its server-time answers
    # on each connection skip every Nth L2 delta (Binance U/pu gap, Bybit u jump, a lost
    # Coinbase l2update that no client can detect); snapshots are never skipped
    depth_gap_every: int = 0

    def __post_init__(self) -> None:
        counts = (
            self.drop_every,
            self.rate_limit_burst,
            self.rate_limit_every,
            self.server_error_burst,
            self.server_error_every,
            self.retry_after_s,
            self.ban_s,
            self.ban_after_violations,
            self.ban_burst,
            self.depth_gap_every,
        )
        if any(c < 0 for c in counts) or self.latency_ms < 0:
            raise ValueError("fault counts, seconds and latency must be >= 0")
        if not abs(self.clock_skew_ms) <= 86_400_000:  # also refuses NaN
            raise ValueError("clock_skew_ms must be within +-1 day")
        if not 0.0 <= self.malformed_rate <= 1.0:
            raise ValueError("malformed_rate must be within [0, 1]")
        if self.drop_mode not in ("close", "abort"):
            raise ValueError("drop_mode must be 'close' or 'abort'")
        bad = [k for k in self.malformed_kinds if k not in MALFORMED_KINDS]
        if bad or not self.malformed_kinds:
            raise ValueError(f"malformed_kinds must be a non-empty subset of {MALFORMED_KINDS}")
        if self.silence_after is not None and self.silence_after < 0:
            raise ValueError("silence_after must be >= 0")


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    host: str = "127.0.0.1"
    port: int = 8765  # 0 = pick a free port
    venues: tuple[str, ...] = field(default_factory=url_venues)
    market: MarketConfig = field(default_factory=MarketConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)  # applies to every venue...
    venue_faults: Mapping[str, FaultConfig] = field(default_factory=dict)  # ...unless overridden
    synthetic: bool = True  # False: serve only replayed frames (then stay idle)
    replay: tuple[Path, ...] = ()
    replay_speed: float = 0.0  # 1.0 = captured pace, 10 = ten times faster, 0 = no waiting
    replay_filter: bool = False  # True: only replay frames of the client's subscriptions
    after_replay: AfterReplay = "synthetic"
    tick_ms: int = 50  # market step; frames of one step are sent as one batch
    max_pending_frames: int = 200_000  # per connection; older batches are dropped beyond it
    bybit_idle_timeout_s: float = 600.0  # close when the client sends nothing (no ping)
    coinbase_subscribe_timeout_s: float = 5.0  # close when no subscribe arrives in time
    binance_ping_interval_s: float = 20.0  # server pings; spot closes without pong in 60 s
    binance_pong_timeout_s: float = 60.0
    futures_ping_interval_s: float = 180.0
    futures_pong_timeout_s: float = 600.0
    binance_weight_limit_1m: int = 6000  # REQUEST_WEIGHT per minute (exchangeInfo)
    futures_weight_limit_1m: int = 2400

    def __post_init__(self) -> None:
        known = url_venues()
        bad = [v for v in (*self.venues, *self.venue_faults) if v not in known]
        if bad or not self.venues:
            raise ValueError(f"venues must be a non-empty subset of {known}, got {bad}")
        if not 0 <= self.port <= 65535 or self.tick_ms < 1 or self.replay_speed < 0:
            raise ValueError("port within 0..65535, tick_ms >= 1, replay_speed >= 0")
        if self.after_replay not in ("synthetic", "idle", "close"):
            raise ValueError("after_replay must be synthetic, idle or close")

    def faults_for(self, venue: str) -> FaultConfig:
        return self.venue_faults.get(venue, self.faults)


# ------------------------------------------------------------------------------- CLI


FAULT_FIELDS: Final = tuple(f.name for f in fields(FaultConfig))
