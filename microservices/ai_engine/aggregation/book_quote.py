"""The latest `exchange.orderbook` entry of one (symbol, venue), as the aggregator keeps it.

Only the top of the book and the depth figures the collector computed over the whole book
are kept (quote units, as on the stream); the snapshot converts depth to USD. Pure: no I/O,
no clock reads.
"""

from __future__ import annotations

from microservices.common.book_schema import BookTop

_NEVER = -1


class BookQuote:
    """Top of one venue's book and its depth within 10 / 50 bps of mid (quote units).

    `apply` ignores an entry older (by venue time `ts_ms`) than the held one, and an entry
    of the same time with the same top and depth (a re-delivery keeps the first receive
    time), so late or repeated delivery never moves it backwards.
    """

    __slots__ = (
        "ask",
        "ask_depth_10bps",
        "ask_depth_50bps",
        "ask_size",
        "bid",
        "bid_depth_10bps",
        "bid_depth_50bps",
        "bid_size",
        "recv_ms",
        "ts_ms",
    )

    def __init__(self) -> None:
        self.ts_ms = self.recv_ms = _NEVER
        self.bid = self.ask = self.bid_size = self.ask_size = 0.0
        self.bid_depth_10bps = self.ask_depth_10bps = 0.0
        self.bid_depth_50bps = self.ask_depth_50bps = 0.0

    def _values(self) -> tuple[float, ...]:
        return (
            self.bid, self.ask, self.bid_size, self.ask_size, self.bid_depth_10bps,
            self.ask_depth_10bps, self.bid_depth_50bps, self.ask_depth_50bps,
        )  # fmt: skip

    def apply(self, top: BookTop) -> bool:
        """Fold one entry; True when the held book changed (False: late or re-delivered)."""
        if top.ts_ms < self.ts_ms:
            return False
        (bid, bid_size), (ask, ask_size) = top.bids[0], top.asks[0]
        values = (
            bid, ask, bid_size, ask_size, top.bid_depth_10bps, top.ask_depth_10bps,
            top.bid_depth_50bps, top.ask_depth_50bps,
        )  # fmt: skip
        if top.ts_ms == self.ts_ms and values == self._values():
            return False
        self.ts_ms, self.recv_ms = top.ts_ms, top.recv_ms
        self.bid, self.ask, self.bid_size, self.ask_size = bid, ask, bid_size, ask_size
        self.bid_depth_10bps, self.ask_depth_10bps = top.bid_depth_10bps, top.ask_depth_10bps
        self.bid_depth_50bps, self.ask_depth_50bps = top.bid_depth_50bps, top.ask_depth_50bps
        return True
