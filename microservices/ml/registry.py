"""Model registry: versioned directories with metadata and a `current` pointer (no ML imports).

Layout under ML_MODEL_DIR:
  versions/v0001/  model.txt params.json features.json metrics.json metadata.json
                   meta/ (the meta-labeler, when trained)  report/ (report.md, PNGs, CSVs)
  current          the promoted version's name (one line), replaced atomically
Versions are numbered in creation order; a version directory is created exclusively, so two
trainers never share one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

VERSION_RE: Final = re.compile(r"^v(\d{4,})$")
POINTER: Final = "current"


@dataclass(frozen=True, slots=True)
class ModelVersion:
    name: str
    path: Path
    metadata: dict[str, Any]


def code_version() -> str:
    """The git commit of the checkout this code runs from, else the package version."""
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=True)  # fmt: skip
        return "git:" + out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import PackageNotFoundError, version

        try:
            return "package:" + version("cross-exchange-intelligence")
        except PackageNotFoundError:
            return "unknown"


class ModelRegistry:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.versions_dir = root / "versions"

    def names(self) -> list[str]:
        """Version names, oldest first."""
        if not self.versions_dir.is_dir():
            return []
        found = [p.name for p in self.versions_dir.iterdir() if VERSION_RE.match(p.name)]
        return sorted(found, key=lambda n: int(n[1:]))

    def new_version_dir(self) -> tuple[str, Path]:
        """Create the next version's directory (exclusively) and return (name, path)."""
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        names = self.names()
        number = int(names[-1][1:]) + 1 if names else 1
        while True:
            name = f"v{number:04d}"
            path = self.versions_dir / name
            try:
                path.mkdir()
            except FileExistsError:
                number += 1
                continue
            return name, path

    def write_metadata(self, path: Path, metadata: dict[str, Any]) -> None:
        text = json.dumps(metadata, indent=2, sort_keys=True, default=_json_default)
        (path / "metadata.json").write_text(text + "\n")

    def get(self, name: str) -> ModelVersion:
        """The version `name`; KeyError when it does not exist or has no metadata."""
        path = self.versions_dir / name
        meta_file = path / "metadata.json"
        if not VERSION_RE.match(name) or not meta_file.is_file():
            raise KeyError(f"no model version {name!r} in {self.versions_dir}")
        return ModelVersion(name, path, json.loads(meta_file.read_text()))

    def list(self) -> list[ModelVersion]:
        out = []
        for name in self.names():
            try:
                out.append(self.get(name))
            except (KeyError, ValueError):
                continue  # a version still being written, or a broken one
        return out

    def promote(self, name: str) -> ModelVersion:
        """Point `current` at `name` (atomic replace); KeyError for an unknown version."""
        version = self.get(name)
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{POINTER}.{os.getpid()}"
        tmp.write_text(name + "\n")
        os.replace(tmp, self.root / POINTER)
        return version

    def current_name(self) -> str | None:
        """The promoted version's name, or None (no pointer, or an unreadable one)."""
        try:
            name = (self.root / POINTER).read_text().strip()
        except OSError:
            return None
        return name if VERSION_RE.match(name) else None

    def current(self) -> ModelVersion | None:
        name = self.current_name()
        if name is None:
            return None
        try:
            return self.get(name)
        except (KeyError, ValueError):
            return None


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
