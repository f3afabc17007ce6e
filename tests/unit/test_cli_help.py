"""Every option of every `cross-exchange` subcommand is documented in `--help`, with its default.

Walks the real parser: each option has help text, and each option whose default means
something (not None, not an off switch, not empty) shows `(default: X)` in the rendered help.
"""

from __future__ import annotations

import argparse
import re

import pytest

from microservices.cli import build_parser
from microservices.exchange_simulator.__main__ import build_parser as simulator_parser
from microservices.exchange_simulator.venue_defaults import url_venues


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found = {"cross-exchange": parser}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    found["python -m microservices.exchange_simulator"] = simulator_parser()
    return found


PARSERS = _subparsers(build_parser())


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        a
        for a in parser._actions
        if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)
    ]


def _shows_default(action: argparse.Action) -> bool:
    default = action.default
    if default is None or default is False or default == argparse.SUPPRESS:
        return False
    return not (isinstance(default, str | list | tuple) and len(default) == 0)


def _help_blocks(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Option string -> its whole entry in the rendered help, lines joined."""
    blocks: dict[str, str] = {}
    current: list[str] = []
    for line in [*parser.format_help().splitlines(), ""]:
        starts_entry = re.match(r"^  \S", line) is not None
        if current and (starts_entry or not line.startswith("   ")):
            entry = " ".join(part.strip() for part in current)
            invocation = re.split(r"\s{2,}", current[0].strip())[0]
            for token in re.split(r"[ ,]+", invocation):
                blocks.setdefault(token, entry)
            current = []
        if starts_entry:
            current = [line]
        elif current:
            current.append(line)
    return blocks


def test_the_walk_finds_every_subcommand() -> None:
    assert set(PARSERS) >= {
        "cross-exchange", "run", "collector", "aggregator", "engine", "simulator", "normalize",
        "backfill",
    }  # fmt: skip
    assert len(_options(PARSERS["simulator"])) >= 40


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_option_has_help(name: str) -> None:
    missing = [
        (a.option_strings or [a.dest])[0]
        for a in _options(PARSERS[name])
        if not a.help or a.help == argparse.SUPPRESS
    ]
    assert missing == [], f"{name}: options without help text"


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_default_is_shown(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # one entry per line: nothing wraps mid-default
    parser = PARSERS[name]
    blocks = _help_blocks(parser)
    hidden = []
    for action in _options(parser):
        if not _shows_default(action):
            continue
        key = action.option_strings[-1] if action.option_strings else action.dest
        if f"(default: {action.default})" not in blocks.get(key, ""):
            hidden.append((key, action.default, blocks.get(key)))
    assert hidden == [], f"{name}: defaults missing from --help"


def test_defaults_render_readably(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    blocks = _help_blocks(PARSERS["simulator"])
    served = ",".join(url_venues())  # every registered URL venue, comma-joined, not a repr
    assert f"(default: {served})" in blocks["--venues"]
    assert "(default: BTCUSDT,ETHUSDT,SOLUSDT)" in blocks["--symbols"]
    assert "(default: 8765)" in blocks["--port"]
    assert "(default: 20.0)" in blocks["--rate"]
    assert "default" not in blocks["--silence-after"]  # None: nothing to show
    run = _help_blocks(PARSERS["run"])
    assert "default" not in run["--demo"] and "default" not in run["--duration"]
    assert "(default: .env)" in _help_blocks(PARSERS["cross-exchange"])["--env-file"]
