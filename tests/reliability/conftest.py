"""Fixtures of the fault-injection suite and the end-of-run table of what it measured."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.helpers import MEASUREMENTS, Services, format_measurements


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    """Start service processes with `services.start(...)`; any still running is killed after."""
    running = Services(tmp_path)
    yield running
    running.cleanup()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if MEASUREMENTS:
        terminalreporter.write_sep("-", "reliability measurements (docs/RELIABILITY.md)")
        for line in format_measurements(MEASUREMENTS):
            terminalreporter.write_line(line)
