"""The mutable state of one venue and symbol in the synthetic market (see `market.py`)."""

from __future__ import annotations

import random

from microservices.exchange_simulator.bars import BarSeries
from microservices.exchange_simulator.events import Instrument, unit


class VenueBook:
    """Mutable state of one venue and symbol: quote, last trade, ids, bars, 24 h stats."""

    __slots__ = (
        "ask",
        "ask_qty",
        "bars",
        "bid",
        "bid_qty",
        "carry",
        "high_24h",
        "inst",
        "last_price",
        "last_qty",
        "last_second",
        "last_taker_buy",
        "last_ts",
        "low_24h",
        "mid",
        "noise",
        "open_24h",
        "rng",
        "seq",
        "symbol",
        "trade_id",
        "turnover_24h",
        "update_id",
        "venue",
        "volume_24h",
    )

    def __init__(
        self, venue: str, inst: Instrument, mid: float, bars: BarSeries, seed: int
    ) -> None:
        self.venue, self.symbol, self.inst = venue, inst.symbol, inst
        self.mid, self.bars = mid, bars
        self.rng = random.Random(f"{seed}:{venue}:{inst.symbol}")
        base = 1_000_000 + int(unit(venue + inst.symbol) * 9e8)
        self.trade_id, self.update_id, self.seq = base, base * 7, base * 31
        self.noise = self.carry = 0.0
        self.bid = self.ask = self.last_price = mid
        self.bid_qty = self.ask_qty = self.last_qty = inst.step
        self.last_taker_buy, self.last_ts, self.last_second = True, 0, 0
        self.open_24h = self.high_24h = self.low_24h = mid
        self.volume_24h = self.turnover_24h = 0.0
