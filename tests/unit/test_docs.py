"""Docs that must not drift from the code: the README's config table and stream names."""

from __future__ import annotations

from pathlib import Path

from microservices.common.config_doc import config_table
from microservices.common.streams import build_streams

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_readme_config_table_matches_settings() -> None:
    section = README.split("<!-- config-table -->\n", 1)[1].split("\n<!-- /config-table -->", 1)[0]
    assert section == config_table(), "run: python -m microservices.common.config_doc --write"


def test_readme_names_every_stream() -> None:
    for stream in build_streams("").all():
        assert f"`{stream.name}`" in README


def test_readme_quick_start_has_the_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("##", 1)[0]
    assert "make run" in quick and "make test" in quick


def test_readme_retention_table_matches_the_maxlens() -> None:
    """Each row's entries are the stream's MAXLEN default, and its minutes are entries / rate."""
    section = README.split("<!-- retention-table -->\n", 1)[1].split("\n<!-- /", 1)[0]
    rows = [line.strip("|").split("|") for line in section.splitlines()[2:]]
    maxlens = {stream.name: stream.maxlen for stream in build_streams("").all()}
    named = set()
    for stream, entries, rate, minutes in ([cell.strip() for cell in row] for row in rows):
        name = stream.strip("`")
        named.add(name)
        assert int(entries) == maxlens[name], name
        if rate[0].isdigit():
            assert float(minutes) == round(int(entries) / float(rate) / 60, 1), name
    assert named == {"exchange.raw", "exchange.normalized", "exchange.features",
                     "exitbrain.status", "exitbrain.alerts", "exchange.listings",
                     "alerts"}  # fmt: skip
