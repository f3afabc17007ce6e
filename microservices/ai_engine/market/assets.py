"""Names people use for a followed symbol or a venue, resolved. Pure.

`ETH`, `eth`, `ETHUSDT`, `ETH-USD` and, through the alias table, `MATIC` (-> POL) all name
the followed symbol of the asset against USD (`POLUSDT`); a venue word names every venue id
equal to it or starting with it and `_` (`binance` -> binance, binance_futures).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from microservices.common.instruments import canonical_asset

USD_SUFFIXES: Final = ("USDT", "USDC", "USD")
SEPARATORS: Final = "-/_"


def resolve_symbol(name: str, followed: Iterable[str]) -> str | None:
    """The followed symbol `name` stands for, or None."""
    known = set(followed)
    cleaned = name.strip().upper()
    for sep in SEPARATORS:
        cleaned = cleaned.replace(sep, "")
    if not cleaned.isalnum():
        return None
    if cleaned in known:
        return cleaned
    base = cleaned
    for suffix in USD_SUFFIXES:
        if cleaned.endswith(suffix) and len(cleaned) > len(suffix):
            base = cleaned[: -len(suffix)]
            break
    try:
        asset = canonical_asset(base)
    except ValueError:
        return None
    candidate = asset + "USDT"
    return candidate if candidate in known else None


def resolve_venues(word: str, venues: Sequence[str]) -> list[str]:
    """The venue ids a word names, in `venues` order; [] when none."""
    key = word.strip().lower().replace(".", "").replace(" ", "")
    if not key:
        return []
    return [v for v in venues if v == key or v.startswith(key + "_")]
