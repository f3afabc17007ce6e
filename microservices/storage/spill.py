"""A local file queue for rows the database cannot take yet (long outages, SPEC section 8).

A stream's MAXLEN bounds how long a writer that stops acknowledging can wait: exchange.raw
holds seconds to a minute at demo rates. So once the database has been down for
STORE_SPILL_AFTER_S, the writer writes each batch's rows here instead, fsyncs the file and
its directory, and only then acknowledges the entries: a spilled batch is as durable as a
committed one. When the database is back a drain task inserts the files oldest first (ON
CONFLICT DO NOTHING, so a crash between insert and delete replays harmlessly) and deletes
them. Beyond STORE_SPILL_MAX_MB the queue refuses more and the writer holds entries pending.

Files are pickles of `(table name, row)` lists written by this process for this process; the
directory is the writer's own (mode 0700), never a place others write to.
"""

from __future__ import annotations

import itertools
import logging
import os
import pickle
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from microservices.storage import tables
from microservices.storage.rows import Item

logger = logging.getLogger(__name__)
SUFFIX: Final = ".spill"
BY_NAME: Final = {table.name: table for table in tables.ALL_TABLES}


class SpillQueue:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._seq = itertools.count()

    def files(self) -> list[Path]:
        if not self.directory.exists():
            return []
        return sorted(self.directory.glob(f"*{SUFFIX}"))

    def size_bytes(self) -> int:
        return sum(path.stat().st_size for path in self.files())

    def put(self, items: Sequence[Item]) -> bool:
        """Write `items` durably; False (nothing written) when the queue is full."""
        payload = pickle.dumps([(i.table.name, i.row) for i in items], protocol=5)
        if self.size_bytes() + len(payload) > self.max_bytes:
            return False
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._seq):06d}{SUFFIX}"
        final = self.directory / name
        partial = final.with_suffix(".partial")
        with open(partial, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        partial.rename(final)
        _fsync_dir(self.directory)
        return True

    def load(self, path: Path) -> list[Item] | None:
        """The items of one spill file (entry ids are not kept: they were acknowledged);
        None for an unreadable file, which is renamed `*.unreadable` and logged."""
        try:
            with open(path, "rb") as handle:
                pairs: list[tuple[str, tuple[Any, ...]]] = pickle.load(handle)
            return [Item("", BY_NAME[name], row) for name, row in pairs]
        except (OSError, EOFError, pickle.UnpicklingError, KeyError, ValueError) as exc:
            logger.error("store.spill_unreadable", extra={"file": path.name, "error": repr(exc)})
            path.rename(path.with_suffix(".unreadable"))
            return None

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        _fsync_dir(self.directory)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
