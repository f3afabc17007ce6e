"""Where test fixtures live, and loaders for the capture formats.

Real recordings are third-party data: they are read from ../shared/fixtures (present in CI)
and never copied into the repo. `shared_fixture()` skips a test with a clear reason when that
folder is absent (a user's machine) and fails it when CI=true, where it must be present.
The repo's own small frames, written from the documented formats, live in tests/fixtures.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

REPO = Path(__file__).resolve().parents[1]
LOCAL_FIXTURES = REPO / "tests" / "fixtures"
SHARED_FIXTURES = Path(
    os.environ.get("SHARED_FIXTURES_DIR", str(REPO.parent / "shared" / "fixtures"))
)


def shared_fixture(relative: str) -> Path:
    """Path of a real recorded payload under ../shared/fixtures, or skip/fail if absent."""
    path = SHARED_FIXTURES / relative
    if path.exists():
        return path
    reason = f"real capture {relative} not available (looked in {SHARED_FIXTURES})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + "; CI must have ../shared/fixtures")
    pytest.skip(reason)


def local_fixture(relative: str) -> Path:
    return LOCAL_FIXTURES / relative


def capture_frames(path: Path, direction: str = "recv") -> Iterator[str]:
    """Raw frame texts of a JSONL capture (cryptofeed `dir` format or tardis `src` format)."""
    with path.open("rb") as handle:
        for line in handle:
            if not line.strip():
                continue
            item = orjson.loads(line)
            frame = item.get("frame")
            if frame is None:
                continue
            if "dir" in item and item["dir"] != direction:
                continue
            yield frame if isinstance(frame, str) else orjson.dumps(frame).decode()


def tardis_frames(path: Path, src_contains: str = "") -> Iterator[tuple[str, dict]]:
    """(frame text, line metadata) of a tardis-node sample file, optionally filtered by src."""
    with path.open("rb") as handle:
        for line in handle:
            if not line.strip():
                continue
            item = orjson.loads(line)
            if src_contains and src_contains not in item.get("src", ""):
                continue
            frame = item["frame"]
            yield (frame if isinstance(frame, str) else orjson.dumps(frame).decode()), item
