"""Fast path of the Bybit parser for `publicTrade.*` frames: msgspec decodes them into typed
Structs, and plainly valid ones become records without the reference parser's dicts.

Same contract as `binance/fast.py`: None means "let the reference parser decide" (a decode or
type error, an unknown field, a symbol not cached yet, any value the fast path is not sure
of), and records returned are exactly the reference's, with the same duplicate accounting.
tests/unit/exchanges/test_fast_path_equivalence_bybit.py checks that. The msgspec / orjson
differences and how they are kept out are described in `binance/fast.py`.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import msgspec

from microservices.common.records import AnyRaw, Side, Trade
from microservices.common.schema_fields import MAX_TS_MS, MIN_TS_MS  # epoch_ms() bounds
from microservices.data_collector.exchanges import _records as build
from microservices.data_collector.exchanges.base import ParseStats, TradeDeduper

FAST_MAX: Final = 2.0**63
I64_MIN: Final = -(2**63)  # orjson reads integers outside [-2**63, 2**64) as floats
U64_MAX: Final = 2**64 - 1
SIDES: Final[dict[str, Side]] = {"Buy": "buy", "Sell": "sell"}
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class _Struct(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    pass


class TradeItem(_Struct):
    T: Any
    S: Any
    v: float
    p: float
    i: Any
    s: str = ""
    L: str = ""  # tick direction (linear)
    BT: bool = False  # block trade
    seq: Int64 = 0
    RPI: bool = False


class TradeFrame(_Struct):
    topic: str
    data: list[TradeItem]
    ts: Int64 = 0
    type: str = ""


_decode = msgspec.json.Decoder(TradeFrame, strict=False).decode


def _trade_id(value: Any) -> str | None:
    """The reference's trade_id() for values it accepts, None for the rest."""
    if type(value) is str:
        return value if value != "" else None
    if type(value) is int and I64_MIN <= value <= U64_MAX:
        return str(value)
    return None


class BybitFastPath:
    """Mixed into BybitParser, which provides the state below."""

    _heads: dict[str, dict[str, Any]]
    _handlers: dict[str, Any]
    _trade_ids: TradeDeduper
    stats: ParseStats

    def _fast_trades(self, frame: str | bytes, recv_ms: int) -> list[AnyRaw] | None:
        """A publicTrade frame's trades, or None to let the reference parser decide."""
        try:
            msg = _decode(frame)
        except Exception:  # any decode, type or encoding error
            return None
        prefix, _, vsym = msg.topic.partition(".")
        head = self._heads.get(vsym)
        if prefix != "publicTrade" or "publicTrade" not in self._handlers or head is None:
            return None
        trades: list[Trade] = []
        for t in msg.data:
            ts, px, size, side, tid = t.T, t.p, t.v, t.S, _trade_id(t.i)
            if not (
                type(ts) is int
                and MIN_TS_MS <= ts <= MAX_TS_MS
                and 0.0 < px < FAST_MAX
                and 0.0 < size < FAST_MAX
                and type(side) is str
                and side in SIDES
                and tid is not None
            ):
                return None
            trades.append(build.trade(head, ts_ms=ts, recv_ms=recv_ms, price=px, size=size,
                                      side=SIDES[side], trade_id=tid))  # fmt: skip
        if not trades:
            return None
        seen, symbol = self._trade_ids.seen, head["symbol"]  # as the reference: claim once valid
        out: list[AnyRaw] = [t for t in trades if not seen(symbol, t.trade_id)]
        if len(out) < len(trades):
            self.stats.reject("duplicate", msg.topic)
        return self.stats.emit(out)
