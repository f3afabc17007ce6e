"""Duplicate trades: the recent trade ids of each symbol, in two generations (bounded memory).

Duplicates come from reconnect and rotation overlaps and venue re-sends, seconds apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

# Trade ids remembered per symbol. Duplicates come from reconnect and rotation overlaps and
# venue re-sends, seconds apart; 2,000 ids or 2 minutes cover that for all but the busiest
# minutes. It was 10,000 ids: with 4 venues x 50 symbols that is up to ~2M ids and ~230 MB of
# collector RSS. The time bound keeps quiet symbols small: at 500 symbols x 4 venues and a
# trade every few seconds, 2,000 ids each would take an hour and ~400 MB to fill.
DEDUPE_CAPACITY: Final = 2_000
DEDUPE_MAX_AGE_S: Final = 120.0


class TradeDeduper:
    """Remembers recent trade ids per symbol; `seen()` is True for repeats.

    Two generations of ids per symbol: new ids go into the current one, which becomes the
    previous one (the older is forgotten) when it holds `capacity` ids or is `max_age_s` old.
    So an id is remembered until `capacity` later ids of its symbol or `max_age_s` seconds
    have passed, whichever comes first (sometimes longer: at most 2 x `capacity` ids). Decimal
    ids ("123456", no leading zero) are kept as ints: half the memory of the string, and no
    two distinct strings map to the same int.
    """

    __slots__ = ("_capacity", "_clock", "_gens", "_max_age_s")

    def __init__(
        self,
        capacity: int = DEDUPE_CAPACITY,
        max_age_s: float = DEDUPE_MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = capacity
        self._max_age_s = max_age_s
        self._clock = clock
        self._gens: dict[str, _Generations] = {}

    def seen(self, symbol: str, trade_id: str) -> bool:
        key: int | str = trade_id
        if trade_id.isdigit() and trade_id.isascii() and (trade_id[0] != "0" or trade_id == "0"):
            key = int(trade_id)
        gens = self._gens.get(symbol)
        now = self._clock()
        if gens is None:
            gens = self._gens[symbol] = _Generations(set(), set(), now)
        current = gens.current
        if key in current or key in gens.previous:
            return True
        if len(current) >= self._capacity or now - gens.started >= self._max_age_s:
            gens.previous, gens.current, gens.started = current, set(), now
            current = gens.current
        current.add(key)
        return False


@dataclass(slots=True)
class _Generations:
    current: set[int | str]
    previous: set[int | str]
    started: float  # clock time the current generation began
