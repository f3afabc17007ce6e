"""`python -m microservices.exchange_simulator [flags]`: run the simulator until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from microservices.common.help_format import DocumentedParser
from microservices.exchange_simulator.cli_args import add_cli_arguments, config_from_args
from microservices.exchange_simulator.server import serve_until_signalled


def build_parser() -> argparse.ArgumentParser:
    parser = DocumentedParser(
        prog="python -m microservices.exchange_simulator",
        description="Local Binance/Bybit/Coinbase exchange simulator (REST + WebSocket).",
    )
    add_cli_arguments(parser)
    return parser


def cli(argv: list[str] | None = None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        config = config_from_args(ns)
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(serve_until_signalled(config))
    return 0


if __name__ == "__main__":
    sys.exit(cli())
