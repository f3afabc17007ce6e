"""The latest volatility index (Deribit DVOL) per currency, for `exchange.normalized`'s `dvol`.

A group gets the DVOL of its base currency when the group is quoted in a USD-class asset
(`BTCUSDT` -> BTC's DVOL; `ETHBTC` none: DVOL is a USD volatility) and the index is no older
than MAX_AGE_MS at the snapshot's time (a venue that stopped sending leaves null, not a value
frozen forever). DVOL records never touch venue state, so they make no symbol fresh or stale.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from microservices.common.instruments import split_by_quote_suffix
from microservices.common.records import VolatilityIndex

MAX_AGE_MS: Final = 60_000  # Deribit pushes DVOL about once a second


class DvolBook:
    """currency -> (DVOL in percent, its ts_ms, its recv_ms), the newest by ts_ms."""

    __slots__ = ("_latest",)

    def __init__(self) -> None:
        self._latest: dict[str, tuple[float, int, int]] = {}

    def apply(self, record: VolatilityIndex) -> bool:
        """Keep the record when it is newer than the held one; True when it was."""
        held = self._latest.get(record.currency)
        if held is not None and record.ts_ms <= held[1]:
            return False
        self._latest[record.currency] = (record.volatility, record.ts_ms, record.recv_ms)
        return True

    def of_group(self, group: str, usd_quotes: Collection[str], now_ms: int) -> float | None:
        """The DVOL of `group`'s base (module docstring), or None."""
        split = split_by_quote_suffix(group, usd_quotes)
        if split is None:
            return None
        held = self._latest.get(split[0])
        if held is None or now_ms - held[2] > MAX_AGE_MS:
            return None
        return held[0]
