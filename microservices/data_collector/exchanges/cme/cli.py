"""`cross-exchange cme ...`: import a settlement file, poll, or serve the CME simulator."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from microservices.common.errors import BadMessage, FatalError

if TYPE_CHECKING:
    from microservices.common.settings import Settings


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    cme = sub.add_parser("cme", help="CME settlements (delayed): import a file, poll, simulate")
    cmds = cme.add_subparsers(dest="cme_command", required=True, metavar="CME_COMMAND")
    imp = cmds.add_parser(
        "import", help="a settlement CSV onto exchange.raw (rolls onto alerts)",
        description="Reads a simple CSV (trade_date,contract,settlement,volume,open_interest) "
        "or a CME settlement file, oldest trade date first; prints one summary line.",
    )  # fmt: skip
    imp.add_argument("file", type=Path, help="the CSV file")
    imp.add_argument("--no-reference", action="store_true",
                     help="skip the spot reference (no basis): no REST requests")  # fmt: skip
    imp.set_defaults(func=_cmd_import)
    poll = cmds.add_parser("poll", help="poll CME_SOURCE every CME_POLL_INTERVAL_S")
    poll.add_argument("--once", action="store_true", help="one poll, then exit")
    poll.set_defaults(func=_cmd_poll)
    sim = cmds.add_parser("simulate", help="serve simulated settlements under /cme")
    sim.add_argument("--host", default="127.0.0.1", help="listen address")
    sim.add_argument("--port", type=int, default=8790, help="listen port")
    sim.add_argument("--holiday", action="append", default=[],
                     help="a day without settlement, YYYY-MM-DD (repeatable)")  # fmt: skip
    sim.add_argument("--malformed", action="store_true", help="add bad rows to every day")
    sim.set_defaults(func=_cmd_simulate)


def _cmd_import(ns: argparse.Namespace, settings: Settings) -> int:
    from microservices.data_collector.exchanges.cme.runtime import import_file

    try:
        asyncio.run(import_file(settings, ns.file, not ns.no_reference, print))
    except BadMessage as exc:
        raise FatalError(str(exc)) from None
    return 0


def _cmd_poll(ns: argparse.Namespace, settings: Settings) -> int:
    from microservices.data_collector.exchanges.cme.runtime import run

    asyncio.run(run(settings, once=ns.once))
    return 0


def _cmd_simulate(ns: argparse.Namespace, settings: Settings) -> int:
    from aiohttp import web

    from microservices.data_collector.exchanges.cme.rows import iso_date
    from microservices.data_collector.exchanges.cme.simulator import SettlementSim, app

    try:
        holidays = frozenset(iso_date(day) for day in ns.holiday)
    except BadMessage as exc:
        raise FatalError(f"--holiday: {exc}") from None
    sim = SettlementSim(
        holidays=holidays | frozenset(settings.cme_holidays),
        malformed=ns.malformed,
        product_ids=dict(settings.cme_product_ids),
    )
    print(f"CME simulator on http://{ns.host}:{ns.port}/cme", file=sys.stderr)
    web.run_app(app(sim), host=ns.host, port=ns.port, print=None)
    return 0
