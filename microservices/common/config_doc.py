"""Render the configuration table of the README from the settings declarations.

`python -m microservices.common.config_doc` prints the Markdown table; a test checks that the
README holds exactly this table between its `<!-- config-table -->` markers. Groups come from
the `# --- group` lines of `SettingsFields`; the registered exchange packages' endpoint
settings are listed in the group of `endpoints`.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from pydantic_settings import BaseSettings

from microservices.common.settings import Settings, variables
from microservices.common.settings_fields import SettingsFields

_FIELD_RE = re.compile(r"^\s{4}(\w+): ")
_GROUP_RE = re.compile(r"^\s{4}# --- (.*)$")


def _item(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(value)
    if isinstance(value, dict):
        return ",".join(f"{key}:{_item(item)}" for key, item in value.items()) or "(none)"
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def field_groups() -> dict[str, str]:
    """Settings field -> the `# --- group` line above it in `SettingsFields`."""
    groups: dict[str, str] = {}
    group = ""
    declared = [c for c in reversed(SettingsFields.__mro__) if issubclass(c, BaseSettings)]
    source = "\n".join(inspect.getsource(c) for c in declared if c is not BaseSettings)
    for line in source.splitlines():
        group_match = _GROUP_RE.match(line)
        if group_match:
            group = group_match.group(1)
            continue
        match = _FIELD_RE.match(line)
        if match and match.group(1) in Settings.model_fields:
            groups[match.group(1)] = group
    return groups


def config_table() -> str:
    groups = field_groups()
    rows = ["| variable | default | group | meaning |", "|---|---|---|---|"]
    for name, var in variables().items():
        meaning = var.description.replace("|", "\\|")
        rows.append(
            f"| `{name.upper()}` | `{_text(var.default)}` | {groups[var.field]} | {meaning} |"
        )
    return "\n".join(rows)


def write_readme_table(path: str = "README.md") -> None:
    """Replace the table between the README's config-table markers."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    start, end = "<!-- config-table -->", "<!-- /config-table -->"
    before, _, rest = text.partition(start)
    _, _, after = rest.partition(end)
    text = f"{before}{start}\n{config_table()}\n{end}{after}"  # before opening: a failure
    with open(path, "w", encoding="utf-8") as handle:  # must not leave README.md empty
        handle.write(text)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--write"]:
        write_readme_table()
    else:
        print(config_table())
