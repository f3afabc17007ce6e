"""Deribit WebSocket parser on the typed skeleton: `ticker.*` (best bid/ask, funding, open
interest), `trades.*` (trades; liquidations where `liquidation` is set) and `chart.trades.*`
(1m klines) and `deribit_volatility_index.*` (DVOL, `dvol.py`) notifications into
`exchange.raw` records; heartbeats and answers are counted.

Amounts of inverse contracts are USD: sizes become base units (amount / price) and open
interest becomes contracts (USD / contract size) with its USD value. The wire model is in
`wire.py`; the handler table is keyed by channel prefix, so a new channel is one entry.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

import msgspec
import orjson

from microservices.common.errors import BadMessage
from microservices.common.records import AnyRaw, Side
from microservices.data_collector.exchanges import _records as build
from microservices.data_collector.exchanges._records import Head
from microservices.data_collector.exchanges.base import (
    CONTROL_REASONS,
    Dropped,
    text_trade_id,
)
from microservices.data_collector.exchanges.dedupe import TradeDeduper
from microservices.data_collector.exchanges.deribit import wire
from microservices.data_collector.exchanges.deribit.dvol import dvol_record
from microservices.data_collector.exchanges.deribit.state import Contract, TickerThrottle
from microservices.data_collector.exchanges.typed import (
    Decode,
    Frame,
    Handler,
    TypedParser,
    decoder,
)

if TYPE_CHECKING:
    from microservices.data_collector.exchanges.deribit.exchange import Deribit

OPPOSITE: Final[dict[str, Side]] = {"buy": "sell", "sell": "buy"}
# public channel prefixes we do not parse (counted "ignored"); others are "unknown_topic"
KNOWN_CHANNELS: Final = frozenset(
    {"book", "quote", "deribit_price_index", "perpetual",
     "markprice", "deribit_price_ranking", "deribit_price_statistics", "incremental_ticker",
     "estimated_expiration_price", "instrument", "platform_state", "announcements",
     "block_rfq", "block_trade_confirmations", "user"}
)  # fmt: skip
DECODERS: Final[dict[str, Decode]] = {prefix: decoder(m) for prefix, m in wire.CHANNELS.items()}
decode_envelope: Final = decoder(wire.Envelope)
CHANNEL_AT: Final = len(wire.CHANNEL_PREFIX)
TEST_REQUEST: Final = "test_request"


def channel_reason(prefix: str) -> str:
    return "ignored" if prefix in KNOWN_CHANNELS else "unknown_topic"


class DeribitParser(TypedParser):
    """Parser of one Deribit connection; the channel's first segment picks the model.

    A `test_request` heartbeat queues a `public/test` request in `outbox` (the bridge sends
    it): Deribit closes a connection that leaves one unanswered."""

    # the connection-level heartbeat says nothing about the market feed (the ticker does)
    control_reasons = CONTROL_REASONS | {"heartbeat"}

    def __init__(self, exchange: Deribit) -> None:
        super().__init__(exchange)
        self._test = exchange.test_message
        self._contracts: dict[str, Contract] = {}  # venue symbol -> amount units
        self._trade_ids = TradeDeduper()
        self._throttle = TickerThrottle()

    def decoder(self) -> Decode:
        return self._decode_frame

    def handlers(self) -> Mapping[type[msgspec.Struct], Handler]:
        return {
            wire.TickerFrame: self._ticker,
            wire.TradeFrame: self._trades,
            wire.ChartFrame: self._chart,
            wire.VolatilityFrame: self._volatility,
        }

    def _decode_frame(self, frame: Frame) -> object:
        """The notification's model by its channel: read from the text when it starts as
        Deribit writes it, else from a first decode of the envelope."""
        if type(frame) is str and frame.startswith(wire.CHANNEL_PREFIX):
            end = frame.find(".", CHANNEL_AT)
            decode = DECODERS.get(frame[CHANNEL_AT:end])
            if decode is not None:
                return decode(frame)
        envelope = decode_envelope(frame)
        params = envelope.params
        if envelope.method == "subscription" and params is not None and params.channel:
            prefix = params.channel.partition(".")[0]
            decode = DECODERS.get(prefix)
            if decode is None:
                raise Dropped(channel_reason(prefix))
            return decode(frame)
        raise Dropped(self._control(envelope))

    def _control(self, envelope: wire.Envelope) -> str:
        """Why a frame that is not a notification is dropped; answers `test_request`."""
        if envelope.method == "heartbeat":
            if envelope.params is not None and envelope.params.type == TEST_REQUEST:
                self.outbox.append(self._test())
            return "heartbeat"
        if envelope.error is not None:
            request = envelope.id
            subscribing = type(request) is int and wire.SUBSCRIBE_ID <= request <= wire.BOOK_ID + 1
            return "subscribe_failed" if subscribing else "venue_error"
        if envelope.result is not msgspec.UNSET:
            return "ignored"  # an answer: subscribe ack, heartbeat set, public/test
        return "unknown_event"

    def classify(self, frame: Frame) -> str:
        try:
            msg = orjson.loads(frame)
        except orjson.JSONDecodeError:
            return "malformed"
        params = msg.get("params") if isinstance(msg, dict) else None
        channel = params.get("channel") if isinstance(params, dict) else None
        if not isinstance(channel, str):
            return "malformed"
        prefix = channel.partition(".")[0]
        return "malformed" if prefix in DECODERS else channel_reason(prefix)

    def _contract(self, vsym: str) -> Contract:
        contract = self._contracts.get(vsym)
        if contract is None:
            inst = self.exchange.listed_instrument(vsym)
            if inst is None:  # followed, so it is listed: a listing that changed under us
                raise Dropped(self.exchange.unfollowed_reason(vsym))
            contract = self._contracts[vsym] = Contract.of(inst)
        return contract

    # ----------------------------------------------------------------------- handlers
    def _ticker(self, msg: wire.TickerFrame, recv_ms: int) -> list[AnyRaw]:
        data = msg.params.data
        vsym = data.instrument_name
        head = self._heads.get(vsym) or self._head(vsym)
        records, crossed = self._throttle.records(head, self._contract(vsym), data, recv_ms)
        if not records:  # no quote (an empty side, or crossed) and nothing else due
            raise Dropped("crossed_quote" if crossed else "empty_book")
        if crossed:
            self.stats.reject("crossed_quote", msg.params.channel)
        return records

    def _trades(self, msg: wire.TradeFrame, recv_ms: int) -> list[AnyRaw]:
        out: list[AnyRaw] = []
        seen = self._trade_ids.seen
        duplicate = False
        for t in msg.params.data:
            head = self._heads.get(t.instrument_name) or self._head(t.instrument_name)
            size = self._contract(t.instrument_name).base_amount(t.amount, t.price)
            trade = build.trade(head, ts_ms=t.timestamp, recv_ms=recv_ms, price=t.price,
                                size=size, side=t.direction,
                                trade_id=text_trade_id(t.trade_id))  # fmt: skip
            if seen(head["symbol"], trade.trade_id):
                duplicate = True
                continue
            out.append(trade)
            if isinstance(t.liquidation, str):
                out.extend(self._liquidations(head, t, size, recv_ms))
        if duplicate:
            self.stats.reject("duplicate", msg.params.channel)
        return out

    def _liquidations(
        self, head: Head, t: wire.TradeItem, size: float, recv_ms: int
    ) -> list[AnyRaw]:
        """ "T": the taker was liquidated (its forced order went the trade's way), "M": the
        maker (the other way), "MT": both."""
        flag = t.liquidation
        if flag not in ("M", "T", "MT"):
            raise BadMessage(f"bad liquidation flag {flag!r}")
        sides: list[Side] = []
        if "T" in flag:
            sides.append(t.direction)
        if "M" in flag:
            sides.append(OPPOSITE[t.direction])
        return [
            build.liquidation(head, ts_ms=t.timestamp, recv_ms=recv_ms, price=t.price,
                              size=size, side=side)
            for side in sides
        ]  # fmt: skip

    def _chart(self, msg: wire.ChartFrame, recv_ms: int) -> list[AnyRaw]:
        """`chart.trades.{instrument}.1`: the 1m candle (other resolutions "ignored"); it is
        closed once a minute has passed since its open (frames carry no flag)."""
        parts = msg.params.channel.split(".")
        if len(parts) != 4 or parts[3] != "1":
            raise Dropped("ignored")
        head = self._heads.get(parts[2]) or self._head(parts[2])
        k = msg.params.data
        o, h, low, c = k.open, k.high, k.low, k.close
        if not (low <= o <= h and low <= c <= h):
            raise BadMessage(f"bad candle o={o} h={h} l={low} c={c}")
        return [
            build.kline(head, ts_ms=k.tick, recv_ms=recv_ms, open_time_ms=k.tick,
                        interval="1m", open=o, high=h, low=low, close=c, volume=k.volume,
                        closed=k.tick + 60_000 <= recv_ms)
        ]  # fmt: skip

    def _volatility(self, msg: wire.VolatilityFrame, recv_ms: int) -> list[AnyRaw]:
        """DVOL of a currency: one `volatility_index` record (not a followed instrument's)."""
        return [dvol_record(msg.params.data, recv_ms)]
