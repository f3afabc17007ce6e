"""Reproducible installs: the lock files, what is installed from them, and the CI gate.

A fresh machine installs exactly `requirements/*.lock` (scripts/bootstrap.sh, the Dockerfile);
these tests fail when pyproject.toml and the locks drift apart, when the environment running
the suite is not the locked one, or when images and the CI gate lose their pins and checks.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
LOCKS = REPO / "requirements"


def locked(kind: str) -> dict[str, str]:
    """name -> version of the pins in requirements/<kind>.lock that apply to this interpreter."""
    pins: dict[str, str] = {}
    for line in (LOCKS / f"{kind}.lock").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)\s*(?:;\s*(.+?))?\s*\\?$", line)
        if match is None:
            continue
        name, version, marker = match.groups()
        if marker is None or Marker(marker).evaluate():
            pins[canonicalize_name(name)] = version
    return pins


def project() -> dict[str, object]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]  # type: ignore[no-any-return]


def requirements(extra: str | None) -> list[Requirement]:
    meta = project()
    names = meta["dependencies"] if extra is None else meta["optional-dependencies"][extra]  # type: ignore[index]
    return [Requirement(text) for text in names]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kind", "extra"),
    [("runtime", None), ("runtime", "ml"), ("dev", None), ("dev", "ml"), ("dev", "dev")],
)
def test_every_dependency_is_locked_within_its_bounds(kind: str, extra: str | None) -> None:
    pins = locked(kind)
    for requirement in requirements(extra):
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements/{kind}.lock: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} in {kind}.lock is outside pyproject's {requirement.specifier}"
        )


def test_every_pin_carries_hashes() -> None:
    for kind in ("runtime", "dev"):
        text = (LOCKS / f"{kind}.lock").read_text()
        blocks = re.split(r"\n(?=[A-Za-z0-9_.\-]+==)", text.strip())
        for block in blocks:
            if "==" in block.splitlines()[0]:
                assert "--hash=sha256:" in block, block.splitlines()[0]


def test_runtime_lock_has_no_test_only_packages() -> None:
    runtime = locked("runtime")
    for name in ("pytest", "hypothesis", "schemathesis", "atheris", "mypy", "ruff"):
        assert name not in runtime, f"{name} would ship in the runtime image"
    assert "fakeredis" in runtime  # the embedded-Redis fallback needs it at run time


def test_this_environment_is_the_locked_one() -> None:
    """What `make test` installed is exactly dev.lock (catches an unpinned install path)."""
    mismatched = {}
    for name, version in locked("dev").items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            mismatched[name] = ("missing", version)
            continue
        if canonicalize_name(installed) != canonicalize_name(version):
            mismatched[name] = (installed, version)
    assert mismatched == {}, "installed != locked (run bash scripts/bootstrap.sh --test)"


def test_base_images_are_pinned_to_full_versions() -> None:
    images = re.findall(r"^FROM\s+(\S+)", (REPO / "Dockerfile").read_text(), flags=re.M)
    for compose in ("docker-compose.yml", "docker-compose.vps.yml"):
        text = (REPO / compose).read_text()
        images += [i for i in re.findall(r"image:\s*(\S+)", text) if "cross-exchange" not in i]
    assert images
    for image in images:
        # a full version, with or without the v prefix some projects tag with (prom/prometheus);
        # PostgreSQL's full versions have two parts since 10 (15.10 = major 15, minor 10)
        parts = r"\d+\.\d+" if image.startswith("postgres:") else r"\d+\.\d+\.\d+"
        assert re.search(rf":v?{parts}(-[a-z0-9.]+)*$", image), f"{image} is not pinned"


def test_install_paths_use_the_locks() -> None:
    bootstrap = (REPO / "scripts" / "bootstrap.sh").read_text()
    assert "--require-hashes" in bootstrap and "requirements/$kind.lock" in bootstrap
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "--require-hashes -r requirements/runtime.lock" in dockerfile


def test_ci_gate_runs_lint_and_types() -> None:
    """`.ci/run` is `make test`, whose recipe runs ruff, the format check and mypy first."""
    assert "make test" in (REPO / ".ci" / "run").read_text()
    recipe = re.search(r"^test:.*?\n((?:\t.*\n)+)", (REPO / "Makefile").read_text(), re.M)
    assert recipe is not None
    steps = recipe.group(1)
    for command in ("ruff check", "ruff format --check", "mypy", "pytest"):
        assert command in steps, command
    assert steps.index("mypy") < steps.index("pytest")
