"""Simulator configuration: frozen dataclasses plus the command-line flags that build them.

`add_cli_arguments()` and `config_from_args()` are shared by `python -m
microservices.exchange_simulator` and the project CLI. Imports nothing from the simulator;
venue lists and per-venue defaults come from the exchange registry (`venue_defaults.py`).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
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


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _pairs(items: list[str] | None, what: str) -> dict[str, float]:
    """['bybit=0.0003', ...] -> {'bybit': 0.0003}."""
    result: dict[str, float] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"{what} wants VENUE=NUMBER, got {item!r}")
        result[key.strip()] = float(value)
    return result


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the simulator's flags (defaults = the dataclass defaults)."""
    _server_flags(parser.add_argument_group("server"))
    _market_flags(parser.add_argument_group("synthetic market"))
    _replay_flags(parser.add_argument_group("replay"))
    _fault_flags(parser.add_argument_group("faults (all venues, or --fault-venues)"))


def _server_flags(g: argparse._ArgumentGroup) -> None:
    s = SimulatorConfig()
    g.add_argument("--host", default=s.host, help="address to listen on")
    g.add_argument("--port", type=int, default=s.port, help="0 picks a free port")
    g.add_argument(
        "--venues", type=_csv, default=",".join(s.venues), help="venues to serve, comma-separated"
    )
    g.add_argument(
        "--tick-ms", type=int, default=s.tick_ms, help="market step in ms; one send batch per step"
    )
    g.add_argument(
        "--bybit-idle-timeout", type=float, default=s.bybit_idle_timeout_s,
        help="seconds: Bybit closes a connection whose client sends nothing (no ping)",
    )  # fmt: skip
    g.add_argument(
        "--coinbase-subscribe-timeout", type=float, default=s.coinbase_subscribe_timeout_s,
        help="seconds: Coinbase closes a connection that has not subscribed by then",
    )  # fmt: skip
    g.add_argument(
        "--binance-weight-limit", type=int, default=s.binance_weight_limit_1m,
        help="Binance spot REST request weight allowed per minute",
    )  # fmt: skip
    g.add_argument(
        "--futures-weight-limit", type=int, default=s.futures_weight_limit_1m,
        help="Binance USD-M futures REST request weight allowed per minute",
    )  # fmt: skip


def _market_flags(g: argparse._ArgumentGroup) -> None:
    m = MarketConfig()
    g.add_argument(
        "--symbols", type=_csv, default=",".join(m.symbols), help="BASE+USDT names, comma-separated"
    )
    g.add_argument("--seed", type=int, default=m.seed, help="random seed of the synthetic market")
    g.add_argument(
        "--rate", type=float, default=m.rate,
        help="events (trades+quotes) per second per symbol per venue",
    )  # fmt: skip
    g.add_argument(
        "--volatility", type=float, default=m.volatility,
        help="annualized volatility of the true price (0.6 = 60%%)",
    )  # fmt: skip
    g.add_argument(
        "--correlation", type=float, default=m.correlation,
        help="correlation of log returns between symbols, within [0, 1)",
    )  # fmt: skip
    g.add_argument(
        "--spread-bps", type=float, default=m.spread_bps,
        help="quoted spread in bps (never less than one tick)",
    )  # fmt: skip
    g.add_argument(
        "--noise-bps", type=float, default=m.noise_bps,
        help="standard deviation of each venue's own price noise in bps (clipped at 3 sd)",
    )  # fmt: skip
    g.add_argument(
        "--divergence-bps", type=float, default=m.divergence_bps,
        help="peak extra drift of --divergence-venue in bps (a sine wave)",
    )  # fmt: skip
    g.add_argument(
        "--divergence-venue", default=m.divergence_venue, help="the venue that drifts away"
    )
    g.add_argument(
        "--divergence-period", type=float, default=m.divergence_period_s,
        help="seconds per period of the divergence sine",
    )  # fmt: skip
    g.add_argument(
        "--basis", action="append", metavar="VENUE=BPS",
        help="a venue's basis over the true price in bps; repeatable (built in: "
        + ", ".join(f"{k}={v:g}" for k, v in default_basis().items()) + ")",
    )  # fmt: skip
    g.add_argument(
        "--funding", action="append", metavar="VENUE=RATE_PER_8H",
        help="a perp venue's funding rate per 8 h; repeatable (built in: "
        + ", ".join(f"{k}={v:g}" for k, v in default_funding().items()) + ")",
    )  # fmt: skip
    g.add_argument(
        "--funding-interval", action="append", metavar="VENUE:SYMBOL=HOURS",
        help="settle SYMBOL on VENUE every HOURS (8 when not given); the rate scales with it",
    )  # fmt: skip
    g.add_argument(
        "--liquidations-per-min", type=float, default=m.liquidations_per_min,
        help="liquidations per minute per symbol per perp venue",
    )  # fmt: skip
    g.add_argument(
        "--history-minutes", type=int, default=m.history_minutes,
        help="1m bars of synthetic history before the start",
    )  # fmt: skip
    g.add_argument("--no-synthetic", action="store_true", help="serve replayed frames only")


def _replay_flags(g: argparse._ArgumentGroup) -> None:
    s = SimulatorConfig()
    g.add_argument(
        "--replay", action="append", type=Path, default=[], metavar="PATH",
        help="a JSONL capture to replay to clients; repeatable",
    )  # fmt: skip
    g.add_argument(
        "--replay-speed", type=float, default=s.replay_speed,
        help="1 = captured pace, 10 = ten times faster, 0 = no waiting",
    )  # fmt: skip
    g.add_argument(
        "--replay-filter", action="store_true",
        help="replay only the frames of the client's subscriptions",
    )  # fmt: skip
    g.add_argument(
        "--after-replay", choices=("synthetic", "idle", "close"), default=s.after_replay,
        help="what a connection does when the replay ends",
    )  # fmt: skip


def _fault_flags(g: argparse._ArgumentGroup) -> None:
    f = FaultConfig()
    g.add_argument(
        "--fault-venues", type=_csv, default="",
        help="comma-separated venues the faults apply to; all venues when not given",
    )  # fmt: skip
    g.add_argument(
        "--drop-every", type=int, default=f.drop_every,
        help="close each connection after this many market-data frames (0 = never)",
    )  # fmt: skip
    g.add_argument(
        "--drop-mode", choices=("close", "abort"), default=f.drop_mode,
        help="close: close frame 1001; abort: TCP reset without a close frame",
    )  # fmt: skip
    g.add_argument(
        "--silence-after", type=int, default=f.silence_after,
        help="go silent after this many data frames (0 = at once; not given = never)",
    )  # fmt: skip
    g.add_argument(
        "--silence-for", type=float, default=f.silence_for_s,
        help="seconds of silence (not given = until the connection ends)",
    )  # fmt: skip
    g.add_argument(
        "--malformed-rate", type=float, default=f.malformed_rate,
        help="probability within [0, 1] that a data frame is replaced by a malformed one",
    )  # fmt: skip
    g.add_argument(
        "--malformed-kinds", type=_csv, default=",".join(f.malformed_kinds),
        help="comma-separated kinds of malformed frames to pick from",
    )  # fmt: skip
    g.add_argument(
        "--latency-ms", type=float, default=f.latency_ms,
        help="ms added to every WebSocket send and REST response",
    )  # fmt: skip
    g.add_argument(
        "--rate-limit-burst", type=int, default=f.rate_limit_burst,
        help="answer this many REST requests with 429 (armed at start)",
    )  # fmt: skip
    g.add_argument(
        "--rate-limit-every", type=int, default=f.rate_limit_every,
        help="re-arm the 429 burst after this many accepted requests (0 = once)",
    )  # fmt: skip
    g.add_argument(
        "--retry-after", type=int, default=f.retry_after_s, help="Retry-After seconds of a 429"
    )
    g.add_argument(
        "--ban-after", type=int, default=f.ban_after_violations,
        help="requests inside a Retry-After window before a 418 ban (Binance)",
    )  # fmt: skip
    g.add_argument(
        "--ban-seconds", type=int, default=f.ban_s, help="Retry-After seconds of a 418 ban"
    )
    g.add_argument(
        "--ban-burst", type=int, default=f.ban_burst,
        help="ban at once (418 for --ban-seconds) this many times; venues with bans only",
    )  # fmt: skip
    g.add_argument(
        "--server-error-burst", type=int, default=f.server_error_burst,
        help="answer this many REST requests with 503 (armed at start)",
    )  # fmt: skip
    g.add_argument(
        "--server-error-every", type=int, default=f.server_error_every,
        help="re-arm the 503 burst after this many accepted requests (0 = once)",
    )  # fmt: skip
    g.add_argument(
        "--clock-skew-ms", action="append", metavar="VENUE=MS",
        help="VENUE's clock runs MS ahead (negative: behind) in its server-time answers; "
        "repeatable, independent of --fault-venues",
    )  # fmt: skip


def _market_from_args(ns: argparse.Namespace) -> MarketConfig:
    basis = {**default_basis(), **_pairs(ns.basis, "--basis")}
    funding = {**default_funding(), **_pairs(ns.funding, "--funding")}
    return MarketConfig(
        symbols=tuple(sym.upper() for sym in ns.symbols),
        seed=ns.seed,
        rate=ns.rate,
        volatility=ns.volatility,
        correlation=ns.correlation,
        spread_bps=ns.spread_bps,
        noise_bps=ns.noise_bps,
        basis_bps=basis,
        divergence_bps=ns.divergence_bps,
        divergence_venue=ns.divergence_venue,
        divergence_period_s=ns.divergence_period,
        funding_rates=funding,
        funding_intervals_h={
            k: int(v) for k, v in _pairs(ns.funding_interval, "--funding-interval").items()
        },
        liquidations_per_min=ns.liquidations_per_min,
        history_minutes=ns.history_minutes,
    )


def _faults_from_args(ns: argparse.Namespace) -> FaultConfig:
    return FaultConfig(
        drop_every=ns.drop_every,
        drop_mode=ns.drop_mode,
        silence_after=ns.silence_after,
        silence_for_s=ns.silence_for,
        malformed_rate=ns.malformed_rate,
        malformed_kinds=ns.malformed_kinds,
        latency_ms=ns.latency_ms,
        rate_limit_burst=ns.rate_limit_burst,
        rate_limit_every=ns.rate_limit_every,
        retry_after_s=ns.retry_after,
        ban_after_violations=ns.ban_after,
        ban_s=ns.ban_seconds,
        ban_burst=ns.ban_burst,
        server_error_burst=ns.server_error_burst,
        server_error_every=ns.server_error_every,
    )


def config_from_args(ns: argparse.Namespace) -> SimulatorConfig:
    """Build (and validate: ValueError) a SimulatorConfig from parsed `add_cli_arguments` flags."""
    faults = _faults_from_args(ns)
    healthy = FaultConfig()
    if ns.fault_venues:
        base, per_venue = healthy, {venue: faults for venue in ns.fault_venues}
    else:
        base, per_venue = faults, {}
    for venue, skew_ms in _pairs(ns.clock_skew_ms, "--clock-skew-ms").items():
        per_venue[venue] = replace(per_venue.get(venue, base), clock_skew_ms=skew_ms)
    return SimulatorConfig(
        host=ns.host,
        port=ns.port,
        venues=tuple(ns.venues),
        market=_market_from_args(ns),
        faults=base,
        venue_faults=per_venue,
        synthetic=not ns.no_synthetic,
        replay=tuple(ns.replay),
        replay_speed=ns.replay_speed,
        replay_filter=ns.replay_filter,
        after_replay=ns.after_replay,
        tick_ms=ns.tick_ms,
        bybit_idle_timeout_s=ns.bybit_idle_timeout,
        coinbase_subscribe_timeout_s=ns.coinbase_subscribe_timeout,
        binance_weight_limit_1m=ns.binance_weight_limit,
        futures_weight_limit_1m=ns.futures_weight_limit,
    )


FAULT_FIELDS: Final = tuple(f.name for f in fields(FaultConfig))
