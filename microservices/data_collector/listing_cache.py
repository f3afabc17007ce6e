"""The on-disk cache of venue listings, and what changed between two listings.

Encoding, decoding, `diff_listings` and `choose_listing` are pure (the fetch time is a
parameter). The only I/O is `write_listing` / `read_listing`: one small JSON file per venue,
replaced atomically. The refresh loop that fetches listings lives elsewhere.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import msgspec

from microservices.common.errors import BadMessage
from microservices.common.instruments import Instrument

# Bump when `Instrument` or `CachedListing` change incompatibly: an old file is then ignored
# (the caller refetches) instead of being half-decoded.
FORMAT_VERSION: Final = 1
_VENUE_ID = re.compile(r"^[a-z0-9_]+$")


class ListingCacheError(BadMessage):
    """A cached listing that cannot be used: bad JSON, wrong shape or another format version."""


class CachedListing(msgspec.Struct, frozen=True, kw_only=True):
    version: int  # FORMAT_VERSION of the writer
    venue: str  # venue id
    fetched_ms: int  # when the listing was fetched (epoch ms)
    instruments: tuple[Instrument, ...]


class _Header(msgspec.Struct):
    version: int


@dataclass(frozen=True, slots=True)
class ListingDiff:
    """What changed from one listing to the next, each tuple sorted by (venue, venue symbol)."""

    added: tuple[Instrument, ...]  # new listings: announce (NEW_LISTING)
    removed: tuple[Instrument, ...]  # gone from the listing: unsubscribe, log once
    changed_status: tuple[tuple[Instrument, Instrument], ...]  # (old, new), status differs

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed_status)

    @property
    def delisted(self) -> tuple[Instrument, ...]:
        """Instruments to stop following: removed rows and rows whose new status is delisted."""
        changed = tuple(new for _, new in self.changed_status if new.status == "delisted")
        return self.removed + changed


def encode_listing(venue: str, instruments: Iterable[Instrument], fetched_ms: int) -> bytes:
    """A venue's listing as the JSON document the cache stores (format `FORMAT_VERSION`)."""
    listing = CachedListing(
        version=FORMAT_VERSION, venue=venue, fetched_ms=fetched_ms, instruments=tuple(instruments)
    )
    return msgspec.json.encode(listing)


def decode_listing(data: bytes | str) -> CachedListing:
    """Decode a cached listing; ListingCacheError on bad JSON, shape or format version."""
    try:
        header = msgspec.json.decode(data, type=_Header)
        if header.version != FORMAT_VERSION:
            raise ListingCacheError(f"listing format {header.version}, expected {FORMAT_VERSION}")
        return msgspec.json.decode(data, type=CachedListing)
    except msgspec.DecodeError as exc:
        raise ListingCacheError(f"unreadable listing: {exc}") from exc


def listing_path(directory: Path, venue: str) -> Path:
    """`<directory>/<venue>.listing.json`; ValueError for a venue id that is not [a-z0-9_]+."""
    if not _VENUE_ID.match(venue):
        raise ValueError(f"bad venue id {venue!r}")
    return directory / f"{venue}.listing.json"


def write_listing(path: Path, data: bytes) -> None:
    """Write atomically: a temporary file in the same directory, fsync, then os.replace, so a
    reader (or a crash) sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    import tempfile  # writers only: kept out of the readers' start-up (normalize)

    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def read_listing(path: Path) -> CachedListing | None:
    """The cached listing at `path`; None when there is no file; ListingCacheError when the
    file cannot be used (the caller refetches, and keeps its in-memory listing meanwhile)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return decode_listing(data)


def save_listing(
    path: Path, venue: str, instruments: Iterable[Instrument], fetched_ms: int
) -> None:
    write_listing(path, encode_listing(venue, instruments, fetched_ms))


def _key(inst: Instrument) -> tuple[str, str]:
    return inst.venue, inst.venue_symbol


def diff_listings(old: Iterable[Instrument], new: Iterable[Instrument]) -> ListingDiff:
    """Instruments added, removed, and whose status changed, matched by (venue, venue symbol).
    Computed once per refresh, so each change is announced or logged once."""
    before = {_key(inst): inst for inst in old}
    after = {_key(inst): inst for inst in new}
    added = tuple(after[key] for key in sorted(after.keys() - before.keys()))
    removed = tuple(before[key] for key in sorted(before.keys() - after.keys()))
    changed = tuple(
        (before[key], after[key])
        for key in sorted(before.keys() & after.keys())
        if before[key].status != after[key].status
    )
    return ListingDiff(added=added, removed=removed, changed_status=changed)


def is_plausible(
    new: Sequence[Instrument], old: Sequence[Instrument] | None, min_kept_fraction: float = 0.5
) -> bool:
    """False for an empty listing, or one keeping less than `min_kept_fraction` of the old
    listing's symbols: a truncated or broken answer, not a real mass delisting."""
    if not new:
        return False
    if not old:
        return True
    kept = {_key(inst) for inst in old} & {_key(inst) for inst in new}
    return len(kept) >= min_kept_fraction * len(old)


def choose_listing(
    last_good: CachedListing | None,
    fresh: CachedListing | None,
    min_kept_fraction: float = 0.5,
) -> CachedListing | None:
    """The listing to use after a refresh: `fresh` when it loaded (not None) and is plausible
    against `last_good`, otherwise `last_good` (which may itself be None at first start)."""
    if fresh is None:
        return last_good
    previous = None if last_good is None else last_good.instruments
    if is_plausible(fresh.instruments, previous, min_kept_fraction):
        return fresh
    return last_good
