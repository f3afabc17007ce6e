"""A bounded coverage-guided fuzz run (atheris/libFuzzer) of the parsers and decoders.

atheris is a dev dependency with wheels for Linux x86-64 only: the test skips elsewhere and
fails in CI where the lock installs it (tests/tools.py). The target (atheris_target.py) runs as a subprocess, since libFuzzer ends its
process, seeded with the repo's recorded frames, REST bodies and one valid entry per stream,
for a fixed number of runs with a fixed seed. A crash (an exception outside the documented
ones, or a record that does not survive the schema) makes libFuzzer exit non-zero and write
the input to the test's temporary folder.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from microservices.common import derived_schemas, schemas
from microservices.data_collector.exchanges import EXCHANGES
from tests import factories as f
from tests.fixture_paths import capture_frames, local_fixture
from tests.reliability.helpers import measure
from tests.tools import require_atheris

pytestmark = pytest.mark.slow
TARGET = Path(__file__).with_name("atheris_target.py")
RUNS = int(os.environ.get("ATHERIS_RUNS", "200000"))
VENUES = sorted(EXCHANGES)
DECODERS = (
    schemas.RAW,
    derived_schemas.NORMALIZED,
    derived_schemas.FEATURES,
    derived_schemas.STATUS,
    derived_schemas.ALERTS,
)
SAMPLES = ([f.trade()], [f.snapshot()], [f.features()], [f.status()], [f.alert()])


def write_seed_corpus(folder: Path) -> int:
    """One file per seed: a selector byte (which target) and the payload."""
    seeds: list[bytes] = []
    for index, venue in enumerate(VENUES):
        fixtures = local_fixture(f"exchanges/{venue}")
        for path in sorted(fixtures.glob("ws_*.jsonl")):
            seeds += [bytes([index]) + frame.encode() for frame in capture_frames(path)]
        for path in sorted(fixtures.glob("rest_*.json")):
            seeds.append(bytes([len(VENUES) + index]) + path.read_bytes())
    for index, (schema, records) in enumerate(zip(DECODERS, SAMPLES, strict=True)):
        for record in records:
            fields = schema.encode(record)
            flat = [part.encode() for kv in fields.items() for part in kv]
            seeds.append(bytes([2 * len(VENUES) + index]) + b"\x00".join(flat))
    folder.mkdir(parents=True, exist_ok=True)
    for n, seed in enumerate(seeds):
        (folder / f"seed-{n:04d}").write_bytes(seed)
    return len(seeds)


def test_atheris_bounded_run_finds_no_crash(tmp_path: Path) -> None:
    require_atheris()
    seeds = write_seed_corpus(tmp_path / "corpus")
    result = subprocess.run(
        [sys.executable, str(TARGET), f"-runs={RUNS}", "-seed=1", "-max_len=4096",
         f"-artifact_prefix={tmp_path}/", "-print_final_stats=1", str(tmp_path / "corpus")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    done = re.search(r"Done (\d+) runs", output)
    assert done and int(done.group(1)) >= RUNS, output[-2000:]
    coverage = re.findall(r"cov: (\d+)", output)
    measure(
        "fuzz atheris (parsers, REST parsers, decoders)",
        f"{done.group(1)} runs from {seeds} seeds",
        "-",
        None,
        "test_atheris",
        coverage_edges=coverage[-1] if coverage else "?",
    )
