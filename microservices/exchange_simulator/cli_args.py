"""The simulator's command-line flags and the `SimulatorConfig` they build.

`add_cli_arguments()` and `config_from_args()` are shared by `python -m
microservices.exchange_simulator` and the project CLI (`cross-exchange simulator`); the
configuration itself (frozen dataclasses) is `config.py`.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from microservices.exchange_simulator.config import (
    FaultConfig,
    MarketConfig,
    SimulatorConfig,
)
from microservices.exchange_simulator.venue_defaults import (
    default_basis,
    default_funding,
)


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
        "--depth-gap-every", type=int, default=f.depth_gap_every,
        help="on each connection skip every Nth L2 delta, a sequence gap (0 = never)",
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
        depth_gap_every=ns.depth_gap_every,
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
