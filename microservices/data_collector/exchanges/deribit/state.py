"""Per-connection state of Deribit's ticker channel and the records a ticker yields: best
bid/ask (every frame), funding and open interest (when they moved, at most once a second),
with amounts converted by the instrument's contract terms.

Ticker notifications come every 100 ms and carry every field; funding and open interest move
with the mark price on nearly every one, so they are re-published at most every THROTTLE_MS
(by the frames' own timestamps). Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from microservices.common.instruments import Instrument
from microservices.common.records import AnyRaw
from microservices.data_collector.exchanges import _records as build
from microservices.data_collector.exchanges._records import Head
from microservices.data_collector.exchanges.deribit.wire import TickerData

THROTTLE_MS: Final = 1_000
FUNDING_INTERVAL_H: Final = 8.0  # `funding_8h` is the rate over the last 8 hours


@dataclass(frozen=True, slots=True)
class Contract:
    """How an instrument's amounts read: USD (inverse futures and perpetuals) or base coin
    (linear contracts and options), its contract size (USD or base units), and whether its
    price is the underlying's (not an option premium), so base amounts have a USD value."""

    usd_amounts: bool
    contract_size: float
    priced: bool = True

    @classmethod
    def of(cls, inst: Instrument) -> Contract:
        option = inst.market == "option"
        return cls(inst.inverse and not option, inst.contract_size, not option)

    def base_amount(self, amount: float, price: float) -> float:
        """An amount (trade, book) in base units: USD amounts at `price`."""
        return amount / price if self.usd_amounts else amount

    def open_interest(self, amount: float, mark: float | None) -> tuple[float, float | None]:
        """(contracts, USD value) of an open interest `amount`; the value of base-coin
        amounts is at the mark price (None without one)."""
        contracts = amount / self.contract_size
        if self.usd_amounts:
            return contracts, amount
        return contracts, amount * mark if mark and self.priced else None


@dataclass(slots=True)
class _Sent:
    funding_ms: int = -THROTTLE_MS
    funding: tuple[float, float | None] | None = None  # (rate, mark) last published
    oi_ms: int = -THROTTLE_MS
    oi: float | None = None


class TickerThrottle:
    """Records of `ticker.*` frames; remembers what funding and open interest were sent."""

    __slots__ = ("_sent",)

    def __init__(self) -> None:
        self._sent: dict[str, _Sent] = {}

    def records(
        self, head: Head, contract: Contract, data: TickerData, recv_ms: int
    ) -> tuple[list[AnyRaw], bool]:
        """The frame's records and whether its best bid/ask was crossed (no Ticker then).
        A side of price 0 or null is empty: no Ticker either."""
        out: list[AnyRaw] = []
        crossed = self._quote(head, contract, data, recv_ms, out)
        sent = self._sent.get(head["symbol"])
        if sent is None:
            sent = self._sent[head["symbol"]] = _Sent()
        ts, mark, rate = data.timestamp, data.mark_price or None, data.funding_8h
        due = ts - sent.funding_ms >= THROTTLE_MS
        if isinstance(rate, float) and sent.funding != (rate, mark) and due:
            sent.funding_ms, sent.funding = ts, (rate, mark)
            out.append(build.funding(head, ts_ms=ts, recv_ms=recv_ms, funding_rate=rate,
                                     funding_interval_h=FUNDING_INTERVAL_H, mark_price=mark,
                                     index_price=data.index_price))  # fmt: skip
        oi = data.open_interest
        if isinstance(oi, float) and oi != sent.oi and ts - sent.oi_ms >= THROTTLE_MS:
            sent.oi_ms, sent.oi = ts, oi
            contracts, usd = contract.open_interest(oi, mark)
            out.append(build.open_interest(head, ts_ms=ts, recv_ms=recv_ms,
                                           open_interest=contracts,
                                           open_interest_usd=usd))  # fmt: skip
        return out, crossed

    @staticmethod
    def _quote(
        head: Head, contract: Contract, data: TickerData, recv_ms: int, out: list[AnyRaw]
    ) -> bool:
        """Append the Ticker of a frame with both sides; True when they cross (none then)."""
        bid, ask = data.best_bid_price, data.best_ask_price
        bid_size, ask_size = data.best_bid_amount, data.best_ask_amount
        if not (bid and ask) or bid_size is None or ask_size is None:
            return False
        if bid > ask:
            return True
        out.append(build.ticker(head, ts_ms=data.timestamp, recv_ms=recv_ms, bid=bid,
                                bid_size=contract.base_amount(bid_size, bid), ask=ask,
                                ask_size=contract.base_amount(ask_size, ask),
                                last=data.last_price))  # fmt: skip
        return False
