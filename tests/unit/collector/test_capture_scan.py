"""`file_contains` finds a byte string anywhere in a regular file, through the C library's
memmem or through mmap.find, and says None for what it cannot map."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from microservices.data_collector import capture_scan
from microservices.data_collector.capture_scan import file_contains

LINE = b'{"ts":1.5,"dir":"recv","frame":"{\\"p\\":\\"0.35\\"}"}\n'
REST = b'{"ts":1.6,"dir":"http","url":"https://fapi.binance.com/fapi/v1/exchangeInfo"}\n'


@pytest.fixture(params=["memmem", "mmap.find"])
def scanner(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "mmap.find":
        monkeypatch.setattr(capture_scan, "MEMMEM", None)
    else:
        assert capture_scan.MEMMEM is not None  # glibc has it: the fast path is tested
    return str(request.param)


@pytest.mark.parametrize(
    ("content", "found"),
    [(LINE * 1000, False), (REST + LINE * 1000, True), (LINE * 1000 + REST, True),
     (LINE * 500 + REST + LINE * 500, True), (LINE * 1000 + b'"htt', False)],
)  # fmt: skip
def test_the_mark_is_found_anywhere(
    scanner: str, content: bytes, found: bool, tmp_path: Path
) -> None:
    path = tmp_path / "capture.jsonl"
    path.write_bytes(content)
    with path.open("rb") as handle:
        assert file_contains(handle.fileno(), b'"http"') is found


def test_what_cannot_be_mapped_is_none(scanner: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with empty.open("rb") as handle:
        assert file_contains(handle.fileno(), b'"http"') is None
    read_fd, write_fd = os.pipe()
    try:
        assert file_contains(read_fd, b'"http"') is None
    finally:
        os.close(read_fd)
        os.close(write_fd)
