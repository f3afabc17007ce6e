"""History CSVs of the REST collector: one file per venue, kind and symbol, written idempotently.

A row is keyed by (venue, kind, symbol) - its file - and its `timestamp` (the bar's open time
for OHLC): a re-fetched row replaces the stored one, never duplicates it. The newest stored
timestamp of a file is the resume point of its sync, so it survives restarts with the files.
Files are rewritten atomically (temp file + rename). Imports pandas lazily; no Redis, no I/O
beyond the files under `root`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

KEY = ["timestamp", "exchange", "symbol"]


class HistoryStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        # path -> newest stored timestamp (epoch ms); a path is loaded (and cleaned) once
        self._newest: dict[Path, int | None] = {}

    def path(self, venue: str, kind: str, symbol: str) -> Path:
        return self.root / venue / kind / f"{symbol}.csv"

    def newest_ms(self, venue: str, kind: str, symbol: str) -> int | None:
        """Newest stored timestamp (epoch ms) of the file, None when it has no rows."""
        path = self.path(venue, kind, symbol)
        if path not in self._newest:
            self._newest[path] = self._load_once(path)
        return self._newest[path]

    def write(self, venue: str, kind: str, symbol: str, frame: pd.DataFrame) -> int:
        """Merge `frame` (the collector's unified format, UTC timestamps) into the file.

        Rows newer than everything stored are appended; otherwise the file is merged and
        rewritten, the re-fetched rows replacing the stored ones. Returns the rows written.
        """
        if frame.empty:
            return 0
        newest = self.newest_ms(venue, kind, symbol)
        path = self.path(venue, kind, symbol)
        if newest is None or _ms(frame["timestamp"].min()) > newest:
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.to_csv(path, mode="a", header=newest is None, index=False)
        else:
            import pandas as pd

            stored = _read(path)
            _rewrite(path, _clean(pd.concat([stored, frame], ignore_index=True)))
        self._newest[path] = max(_ms(frame["timestamp"].max()), newest or 0)
        return len(frame)

    def _load_once(self, path: Path) -> int | None:
        """Newest timestamp of an existing file; files written before writes were idempotent
        (duplicated timestamps, unsorted) are cleaned on the way."""
        if not path.exists():
            return None
        stored = _read(path)
        if stored.empty:
            return None
        clean = _clean(stored)
        if len(clean) != len(stored) or not stored["timestamp"].is_monotonic_increasing:
            _rewrite(path, clean)
        return _ms(clean["timestamp"].iloc[-1])


def _read(path: Path) -> pd.DataFrame:
    import pandas as pd

    frame = pd.read_csv(path)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    return frame


def _clean(frame: pd.DataFrame) -> pd.DataFrame:
    """The last row per key wins; sorted by time."""
    frame = frame.drop_duplicates(subset=KEY, keep="last")
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


def _rewrite(path: Path, frame: pd.DataFrame) -> None:
    tmp = path.with_name(path.name + ".tmp")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)


def _ms(ts: pd.Timestamp) -> int:
    return int(ts.value // 1_000_000)
