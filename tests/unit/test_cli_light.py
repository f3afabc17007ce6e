"""`cross-exchange normalize` builds only its own subcommand, so its run imports no settings,
web, Redis or event-loop library; every other command line parses as before."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from microservices import cli
from tests.fixture_paths import local_fixture


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["normalize", "--venue", "x", "p"], "normalize"),
        (["--env-file", "normalize", "run"], "run"),  # the value of --env-file is no command
        (["--env-file=.env", "normalize", "-"], "normalize"),
        (["--help", "normalize"], None),  # the whole command's help
        (["-h"], None),
        ([], None),
        (["--env-file"], None),
    ],
)
def test_command_of(argv: list[str], command: str | None) -> None:
    assert cli.command_of(argv) == command


def test_light_parser_parses_normalize_like_the_full_one() -> None:
    argv = ["--env-file", "/dev/null", "normalize", "--venue", "binance", "--books", "c.jsonl"]
    light = cli.build_parser("normalize").parse_args(argv)
    full = cli.build_parser().parse_args(argv)
    assert vars(light) == vars(full)
    assert cli.build_parser("run").parse_args(["run", "--demo"]).demo is True


def test_normalize_imports_no_service_library(tmp_path: Path) -> None:
    capture = tmp_path / "c.jsonl"
    capture.write_bytes(local_fixture("exchanges/binance_futures/ws_aggTrade.jsonl").read_bytes())
    heavy = ["pydantic_settings", "pydantic", "aiohttp", "asyncio", "redis", "fastapi", "numpy"]
    code = (
        "import sys, json\nfrom microservices.cli import main\n"
        f"rc = main(['--env-file', '/dev/null', 'normalize', '--venue', 'binance_futures', "
        f"{str(capture)!r}])\n"
        f"print(json.dumps([rc, [m for m in {heavy!r} if m in sys.modules]]), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    rc, loaded = orjson.loads(done.stderr.splitlines()[-1])
    assert rc == 0 and loaded == []
    assert done.stdout.count(b"\n") > 0
