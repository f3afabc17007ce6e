"""The `cross-exchange` command: one subcommand per service, plus tools.

Each service subcommand builds settings once (bad config stops here with the variable named)
and hands them to the service's `main`; file tools (`normalize`) read none. Services are
imported lazily so `--help` stays instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from microservices.common.errors import FatalError
from microservices.common.help_format import DocumentedParser

if TYPE_CHECKING:
    from microservices.common.settings import Settings

Command = Callable[[argparse.Namespace, "Settings"], int]
# file tools that read no settings: they skip loading them (pydantic-settings: ~0.2 s of start)
NO_SETTINGS = frozenset({"normalize"})


def _cmd_run(ns: argparse.Namespace, settings: Settings) -> int:
    from microservices.runner import run_all

    return run_all(settings, demo=ns.demo, view=not ns.no_view, duration_s=ns.duration)


def _cmd_collector(ns: argparse.Namespace, settings: Settings) -> int:
    from microservices.data_collector.service import run_collector

    return run_collector(settings, rest=not ns.no_rest)


def _cmd_aggregator(ns: argparse.Namespace, settings: Settings) -> int:
    from microservices.ai_engine.aggregator_service import run_aggregator

    return run_aggregator(settings)


def _cmd_engine(ns: argparse.Namespace, settings: Settings) -> int:
    from microservices.ai_engine.engine import run_engine

    return run_engine(settings, with_aggregator=not ns.no_aggregator, notify=not ns.no_notify)


def _cmd_notify(ns: argparse.Namespace, settings: Settings) -> int:
    from microservices.notify.service import run_notify

    return run_notify(settings)


def _cmd_simulator(ns: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from microservices.exchange_simulator.cli_args import config_from_args
    from microservices.exchange_simulator.server import serve_until_signalled

    try:
        config = config_from_args(ns)
    except ValueError as exc:
        raise FatalError(f"simulator: {exc}") from None
    asyncio.run(serve_until_signalled(config))
    return 0


def _cmd_normalize(ns: argparse.Namespace, settings: Settings | None) -> int:
    from microservices.data_collector.normalize import normalize_file

    return normalize_file(
        ns.venue, ns.path, sys.stdout, stats_to=sys.stderr, instruments=ns.instruments,
        book_depth=ns.book_depth if ns.books else None,
    )  # fmt: skip


def _cmd_symbols(ns: argparse.Namespace, settings: Settings) -> int:
    from microservices.data_collector.symbols_cli import run_symbols

    return run_symbols(settings, ns.venue, as_json=ns.json, refetch=ns.fetch, out=sys.stdout)


def _cmd_backfill(ns: argparse.Namespace, settings: Settings) -> int:
    from microservices.data_collector.backfill import run_backfill

    return run_backfill(settings, ns)


def _cmd_ask(ns: argparse.Namespace, settings: Settings) -> int:
    from microservices.ai_engine.market.ask_cli import run_ask

    return run_ask(settings, " ".join(ns.question), as_json=ns.json, out=sys.stdout)


def _positive_days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not days > 0 or days == float("inf"):
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return days


def _levels(text: str) -> int:
    try:
        levels = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if levels < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return levels


def command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named in `argv` (the first word that is not an option or the value of
    `--env-file`), or None (also when a help option comes first)."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word == "--env-file":
            skip = True
        elif word in ("-h", "--help"):
            return None  # the whole command's help
        elif not word.startswith("-"):
            return word
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with `command` one of LIGHT_COMMANDS, only that subcommand
    (its run then imports no other command's modules: `normalize` starts in ~0.1 s)."""
    parser = DocumentedParser(  # subcommands inherit its class: every --help shows defaults
        prog="cross-exchange",
        description="Key-less cross-exchange market intelligence over Redis Streams.",
    )
    parser.add_argument("--env-file", default=".env", help="settings file")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    if command in LIGHT_COMMANDS:
        LIGHT_COMMANDS[command](sub)
        return parser

    run = sub.add_parser("run", help="all services in one process (embedded Redis if no REDIS_URL)")
    run.add_argument("--demo", action="store_true", help="offline: against the exchange simulator")
    run.add_argument("--no-view", action="store_true", help="no live terminal view, logs only")
    run.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    run.set_defaults(func=_cmd_run)

    col = sub.add_parser("collector", help="WebSocket bridges and REST collectors -> exchange.raw")
    col.add_argument("--no-rest", action="store_true", help="WebSocket bridges only")
    col.set_defaults(func=_cmd_collector)

    agg = sub.add_parser("aggregator", help="exchange.raw -> exchange.normalized")
    agg.set_defaults(func=_cmd_aggregator)

    eng = sub.add_parser("engine", help="aggregator, features, ExitBrain loop and the HTTP API")
    eng.add_argument("--no-aggregator", action="store_true", help="run the aggregator elsewhere")
    eng.add_argument(
        "--no-notify", action="store_true", help="no alert delivery here (run `notify` elsewhere)"
    )
    eng.set_defaults(func=_cmd_engine)

    notify = sub.add_parser(
        "notify", help="deliver exitbrain.alerts and alerts to the ALERT_TARGETS webhooks"
    )
    notify.set_defaults(func=_cmd_notify)

    sim = sub.add_parser("simulator", help="local exchange simulator (REST + WebSocket)")
    from microservices.exchange_simulator.cli_args import add_cli_arguments

    add_cli_arguments(sim)
    sim.set_defaults(func=_cmd_simulator)

    _add_normalize(sub)

    sym = sub.add_parser("symbols", help="a venue's instruments (listing cache or a fetch)")
    sym.add_argument("--venue", required=True, help="venue id, e.g. coinbase")
    sym.add_argument("--json", action="store_true", help="JSON instead of a table")
    sym.add_argument("--fetch", action="store_true", help="ask the venue even with a cache")
    sym.set_defaults(func=_cmd_symbols)

    back = sub.add_parser(
        "backfill",
        help="historical OHLC/funding/OI to Parquet or CSV, or PostgreSQL (--to-db)",
        description="History of one kind for every venue x symbol given, into ONE file with "
        "`exchange` and `symbol` columns, sorted by exchange, symbol and time; finished bars "
        "only. A network or venue error prints one line (venue, endpoint, cause) and exits 1.",
    )
    back.add_argument(
        "--venue",
        action="append",
        required=True,
        help="venue id, repeatable or comma-separated (binance,bybit)",
    )
    back.add_argument(
        "--symbol",
        action="append",
        required=True,
        help="canonical symbol, repeatable or comma-separated (BTCUSDT,ETHUSDT)",
    )
    back.add_argument(
        "--days",
        type=_positive_days,
        default=1.0,
        help="how far back from now in days, > 0, fractions allowed",
    )
    back.add_argument(
        "--kind",
        choices=["ohlc", "funding", "open_interest"],
        default="ohlc",
        help="1m bars, funding rates or open interest",
    )
    back.add_argument(
        "--out",
        default=None,
        help="output file, .parquet or .csv: all venues and symbols in one file",
    )
    back.add_argument(
        "--to-db",
        action="store_true",
        help="into PostgreSQL (DATABASE_URL) instead: tables ohlc, funding_rates, "
        "open_interest, idempotent",
    )
    back.set_defaults(func=_cmd_backfill)
    _add_ask(sub)
    from microservices.ml.cli_args import add_ml_commands

    add_ml_commands(sub)
    _add_cme(sub)
    _add_store(sub)
    return parser


def _add_normalize(sub: argparse._SubParsersAction[DocumentedParser]) -> None:
    norm = sub.add_parser("normalize", help="normalize a JSONL capture to exchange.raw records")
    norm.add_argument("--venue", required=True, help="venue id, e.g. binance_futures")
    norm.add_argument("path", help="capture file in the fixtures' JSONL format; - reads stdin")
    norm.add_argument(
        "--instruments",
        default=None,
        metavar="FILE",
        help="the venue's listing (its own JSON or a LISTING_CACHE_DIR file), used when the "
        "capture records none; without either the venue's naming rule names the symbols",
    )
    norm.add_argument(
        "--books",
        action="store_true",
        help="also replay the order books (depth frames with the REST snapshots recorded in "
        "the capture): one `book` JSON line per applied update, after the records",
    )
    norm.add_argument(
        "--book-depth",
        type=_levels,
        default=20,
        metavar="N",
        help="levels per side in each book line (0: all)",
    )
    norm.set_defaults(func=_cmd_normalize)


def _add_ask(sub: argparse._SubParsersAction[DocumentedParser]) -> None:
    from microservices.ai_engine.market.query import HELP_TEXT
    from microservices.common.help_format import DefaultsHelpFormatter

    class AskFormatter(DefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
        """Defaults shown, the supported questions kept one per line."""

    ask = sub.add_parser(
        "ask", help="a market question in words, answered by the running engine's API",
        description="Ask the running engine (API_URL, else API_HOST:API_PORT) a market "
        "question; " + HELP_TEXT, formatter_class=AskFormatter,
    )  # fmt: skip
    ask.add_argument("question", nargs="+", help='e.g. "best price for ETH"')
    ask.add_argument("--json", action="store_true", help="the JSON answer instead of text")
    ask.set_defaults(func=_cmd_ask)


def _add_cme(sub: argparse._SubParsersAction[DocumentedParser]) -> None:
    from microservices.data_collector.exchanges.cme import cli as cme_cli

    cme_cli.add_parser(sub)


def _add_store(sub: argparse._SubParsersAction[DocumentedParser]) -> None:
    from microservices.storage import cli as store_cli

    store_cli.add_parser(sub)


# subcommands whose parser is built alone when they are the one asked for (file tools that
# must start fast); each adds its own subparser
LIGHT_COMMANDS: dict[str, Callable[[argparse._SubParsersAction[DocumentedParser]], None]] = {
    "normalize": _add_normalize,
}


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    ns = build_parser(command_of(words)).parse_args(words)
    try:
        if ns.command in NO_SETTINGS:
            rc = int(ns.func(ns, None))
            if argv is None:  # the real command line: exit without tearing the heap down
                _exit_now(rc)
            return rc
        from microservices.common.logs import configure_logging
        from microservices.common.settings import load_settings

        settings = load_settings(env_file=ns.env_file)
        configure_logging(settings.log_level, settings.log_format)
        command: Command = ns.func
        return command(ns, settings)
    except FatalError as exc:
        print(f"cross-exchange: {exc}", file=sys.stderr)
        return 2
    except BaseExceptionGroup as group:  # `run`: a service's FatalError inside its TaskGroup
        fatal = _only_fatal(group)
        if fatal is None:
            raise
        print(f"cross-exchange: {fatal}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _exit_now(rc: int) -> None:
    """Flush the standard streams and end the process without the interpreter's teardown
    (freeing every object, ~30 ms after a `normalize` of 150,000 frames): for file tools,
    whose files are closed by then."""
    import os

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)


def _only_fatal(group: BaseExceptionGroup[BaseException]) -> FatalError | None:
    """The first FatalError of a group holding nothing else (cancellations aside)."""
    fatal, rest = group.split(FatalError)
    if fatal is None or (rest is not None and not _only_cancelled(rest)):
        return None
    leaf: BaseException = fatal
    while isinstance(leaf, BaseExceptionGroup):
        leaf = leaf.exceptions[0]
    return leaf if isinstance(leaf, FatalError) else None


def _only_cancelled(group: BaseExceptionGroup[BaseException]) -> bool:
    import asyncio

    return group.split(asyncio.CancelledError)[1] is None


if __name__ == "__main__":
    raise SystemExit(main())
