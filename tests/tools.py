"""One rule for external tools that tests need.

A tool that the setup step installs (`scripts/bootstrap.sh --test`: redis-server, redis-cli,
curl, docker-compose, promtool, chromium, rabbitmq-server, postgresql) fails the test under
CI=true and skips it elsewhere, with the install command. Only what cannot be installed on this platform may skip in CI too, with the reason.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import sys

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"

# tool -> the Debian package that provides it (installed by scripts/bootstrap.sh --test)
DEBIAN_PACKAGES = {
    "redis-server": "redis-server",
    "redis-cli": "redis-tools",
    "curl": "curl",
    "docker-compose": "docker-compose",
    "promtool": "prometheus",
    "chromium": "chromium",
}


def require_tools(*tools: str) -> None:
    """Fail (under CI=true) or skip (elsewhere) unless every tool is on PATH."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    packages = " ".join(DEBIAN_PACKAGES.get(tool, tool) for tool in missing)
    require_installed(", ".join(missing), not missing, packages)


def require_installed(what: str, present: bool, package: str) -> None:
    """The rule for a tool found some other way than on PATH (initdb under
    /usr/lib/postgresql, rabbitmq-server under /usr/lib/rabbitmq): fail under CI=true, skip
    elsewhere, unless `present`."""
    if present:
        return
    if IN_CI:
        pytest.fail(f"{what} missing in CI: scripts/bootstrap.sh --test installs it")
    pytest.skip(f"{what} not installed (apt-get install {package})")


def atheris_platform() -> bool:
    """Whether the lock file installs atheris here (wheels: Linux x86-64, CPython < 3.14)."""
    return sys.platform == "linux" and platform.machine() == "x86_64" and sys.version_info < (3, 14)


def require_atheris() -> None:
    """Skip off the platforms atheris has wheels for; anywhere else it must be installed."""
    if not atheris_platform():
        pytest.skip(f"atheris has no wheel for {sys.platform}/{platform.machine()}")
    if importlib.util.find_spec("atheris") is None:
        if IN_CI:
            pytest.fail("atheris missing in CI: the dev lock installs it on this platform")
        pytest.skip("atheris not installed (bash scripts/bootstrap.sh --test)")
