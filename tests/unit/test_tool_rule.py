"""One rule for missing tools: what the setup step installs fails under CI=true, never skips."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests import tools

TESTS = Path(__file__).resolve().parents[1]
# the only modules that decide to skip: the tool rule itself and the shared-fixture rule
DECIDERS = {TESTS / "tools.py", TESTS / "fixture_paths.py"}


def test_a_missing_installed_tool_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="no-such-tool-x missing in CI"):
        tools.require_tools("no-such-tool-x")


def test_a_missing_tool_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install redis-tools"):
        monkeypatch.setattr(tools.shutil, "which", lambda name: None)
        tools.require_tools("redis-cli")


def test_atheris_skips_only_off_its_platforms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools, "atheris_platform", lambda: False)
    with pytest.raises(pytest.skip.Exception, match="no wheel"):
        tools.require_atheris()
    monkeypatch.setattr(tools, "atheris_platform", lambda: True)
    monkeypatch.setattr(tools, "IN_CI", True)
    monkeypatch.setattr(tools.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="atheris missing in CI"):
        tools.require_atheris()


def skip_calls(path: Path) -> list[int]:
    """Lines calling pytest.skip(...) (the skipif marker is for platform facts only)."""
    tree = ast.parse(path.read_text())
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "skip"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "pytest"
    ]


def test_no_test_decides_to_skip_on_its_own() -> None:
    offenders = {
        str(path.relative_to(TESTS)): lines
        for path in sorted(TESTS.rglob("*.py"))
        if path not in DECIDERS and (lines := skip_calls(path))
    }
    assert offenders == {}, "use tests.tools.require_tools / require_atheris"
