"""Render the configuration table of the README from the settings class.

`python -m microservices.common.config_doc` prints the Markdown table; a test checks that the
README holds exactly this table between its `<!-- config-table -->` markers.
"""

from __future__ import annotations

import inspect
import re

from microservices.common import settings as settings_module
from microservices.common.settings import Settings

_FIELD_RE = re.compile(r"^\s{4}(\w+): ")
_GROUP_RE = re.compile(r"^\s{4}# --- (.*)$")


def _default(name: str) -> str:
    value = Settings.model_fields[name].default
    if isinstance(value, list):
        return ",".join(value)
    if isinstance(value, dict):
        return ",".join(f"{key}:{item:g}" for key, item in value.items()) or "(none)"
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def config_table() -> str:
    source = inspect.getsource(settings_module.Settings)
    rows = ["| variable | default | group | meaning |", "|---|---|---|---|"]
    group = ""
    for line in source.splitlines():
        group_match = _GROUP_RE.match(line)
        if group_match:
            group = group_match.group(1)
            continue
        match = _FIELD_RE.match(line)
        if match and match.group(1) in Settings.model_fields:
            name = match.group(1)
            meaning = (Settings.model_fields[name].description or "").replace("|", "\\|")
            rows.append(f"| `{name.upper()}` | `{_default(name)}` | {group} | {meaning} |")
    return "\n".join(rows)


def write_readme_table(path: str = "README.md") -> None:
    """Replace the table between the README's config-table markers."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    start, end = "<!-- config-table -->", "<!-- /config-table -->"
    before, _, rest = text.partition(start)
    _, _, after = rest.partition(end)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f"{before}{start}\n{config_table()}\n{end}{after}")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--write"]:
        write_readme_table()
    else:
        print(config_table())
