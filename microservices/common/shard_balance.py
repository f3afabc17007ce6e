"""Pure decisions of dynamic shard ownership: which shards an owner gives up or tries to take.

Every owner aims at its fair share `ceil(shards / live owners)`. Each (owner, shard) pair has a
fixed priority (a rendezvous hash), so every owner ranks the shards its own way and the
decisions are deterministic: an owner over its share gives up its lowest-priority shards, an
owner under it tries the shards it does not hold, highest priority first, until it holds its
share (the lease acquire tells it which are free). No I/O, no clock (`shard_lease.py` is the
shell).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Set
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Balance:
    """What one owner does in one refresh."""

    share: int  # ceil(shards / live owners)
    release: tuple[int, ...]  # my extras to give up, lowest priority first
    candidates: tuple[int, ...]  # shards I do not hold, highest priority first
    room: int  # how many of `candidates` to take at most (share - held after release)


def fair_share(shards: int, owners: int) -> int:
    """ceil(shards / owners); all of them for a lone (or not yet announced) owner."""
    return -(-shards // max(owners, 1))


def priority(owner: str, shard: int) -> int:
    """The fixed rank of `shard` for `owner` (higher = kept longer, taken first)."""
    digest = hashlib.blake2b(f"{owner}\x00{shard}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def ranked(owner: str, shards: Collection[int]) -> list[int]:
    """`shards` from `owner`'s highest priority to its lowest (ties by shard number)."""
    return sorted(shards, key=lambda s: (-priority(owner, s), s))


def balance(shards: int, mine: Set[int], owners: Collection[str], me: str) -> Balance:
    """The release and take decisions of `me`, holding `mine`, among the live `owners`
    (`me` counts even when its announcement is not among them yet)."""
    live = set(owners) | {me}
    share = fair_share(shards, len(live))
    held = [s for s in ranked(me, mine) if 0 <= s < shards]
    keep, extras = held[:share], held[share:]
    release = tuple(reversed(extras)) + tuple(sorted(set(mine) - set(held)))
    others = ranked(me, [s for s in range(shards) if s not in mine])
    return Balance(share, release, tuple(others), share - len(keep))
