"""Which shard of a stream an entry belongs to (pure).

With STREAM_SHARDS = N > 1 a sharded stream is N Redis keys, `<stream>:{<i>}` for i in 0..N-1;
the `{i}` hash tag puts every key of shard i (its streams, their dead letters, its leases) in
one Redis Cluster slot, so scripts and pipelines within a shard never cross slots. With N = 1
the stream keeps its plain name (the seeds' names, which `redis-cli` habits and the validation
scripts rely on).

An entry's shard is `crc32(key) mod N` of its canonical group (raw records, book tops, large
trades: the followed symbol the aggregator folds them under) or its symbol (the derived
streams, whose `symbol` is that group): every entry of one symbol lands in one shard, and the
mapping is the same in every process and across restarts. Raw records every symbol's state
needs (`is_context`: stablecoin pairs, whose prices convert other groups' quotes to USD, and
implied-volatility indices, folded into each group of their currency) go to every shard; each
shard's aggregator folds them, and only their home shard publishes their snapshot. Which coins
count as USD is the USD_EQUIVALENTS setting (`raw_key_for(settings.usd_equivalents)`, which
`Settings.streams()` gives the raw stream); `raw_key` is the default set's.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Collection
from functools import lru_cache
from typing import Any, Final

from microservices.common.instruments import USD_EQUIVALENTS
from microservices.common.records import VolatilityIndex

MAX_SHARDS: Final = 1024
# record -> its shard key; None: the record goes to every shard
KeyOf = Callable[[Any], str | None]


def shard_of(key: str, shards: int) -> int:
    """The shard of a canonical symbol: stable across processes and Python versions."""
    return zlib.crc32(key.encode()) % shards if shards > 1 else 0


def shard_name(base: str, shard: int, shards: int) -> str:
    return base if shards <= 1 else f"{base}:{{{shard}}}"


def usd_pairs(usd_quotes: Collection[str]) -> frozenset[str]:
    """The groups of a USD equivalent quoted in another (USDCUSDT, USDTUSD, ...)."""
    return frozenset(base + quote for base in usd_quotes for quote in usd_quotes)


DEFAULT_USD_PAIRS: Final = usd_pairs(USD_EQUIVALENTS)


def is_context(record: Any, pairs: frozenset[str] = DEFAULT_USD_PAIRS) -> bool:
    """Raw records that every shard's state needs (see the module docstring); `pairs`:
    `usd_pairs` of the configured USD equivalents."""
    return isinstance(record, VolatilityIndex) or record.group in pairs


def raw_key_for(usd_quotes: Collection[str]) -> KeyOf:
    """The raw stream's shard key with `usd_quotes` counted as USD (USD_EQUIVALENTS); one
    function per set, so streams built twice from the same settings compare equal."""
    return _raw_key(frozenset(usd_quotes))


@lru_cache(maxsize=16)
def _raw_key(usd_quotes: frozenset[str]) -> KeyOf:
    pairs = usd_pairs(usd_quotes)

    def key(record: Any) -> str | None:
        return None if is_context(record, pairs) else str(record.group)

    return key


raw_key: Final = raw_key_for(USD_EQUIVALENTS)


def group_key(record: Any) -> str | None:
    return str(record.group)


def symbol_key(record: Any) -> str | None:
    return str(record.symbol)


def parse_shards(text: str, shards: int) -> frozenset[int]:
    """`0,2-3` -> {0, 2, 3}; raises ValueError on a shard outside 0..shards-1."""
    chosen: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        low, _, high = part.partition("-")
        first, last = int(low), int(high or low)
        if not 0 <= first <= last < shards:
            raise ValueError(f"shard range {part!r} outside 0..{shards - 1}")
        chosen.update(range(first, last + 1))
    return frozenset(chosen)
