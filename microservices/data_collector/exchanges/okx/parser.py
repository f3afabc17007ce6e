"""OKX v5 WebSocket parser (public and business endpoints) on the typed skeleton: tickers,
trades, candle1m, funding-rate, open-interest and liquidation-orders frames into `exchange.raw`
records; mark-price, index-tickers and the index/mark candles prove the feed alive.

Sizes: SWAP trades, tickers and liquidations are sent in contracts and converted to base
units (linear: x contract value; inverse: x USD value / price); open interest stays in
contracts (`open_interest`, with `contract_size` in the listing) plus `oiUsd`. Taker side:
OKX `side` is the taker's; a liquidation's `side` is the forced order's. Pure: no I/O, no
clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import msgspec
import orjson

from microservices.common.errors import BadMessage
from microservices.common.records import AnyRaw
from microservices.data_collector.exchanges import _records as build
from microservices.data_collector.exchanges._records import Head
from microservices.data_collector.exchanges.base import Dropped, check_ohlc, epoch_ms, price, qty
from microservices.data_collector.exchanges.dedupe import TradeDeduper
from microservices.data_collector.exchanges.okx import wire
from microservices.data_collector.exchanges.typed import (
    Decode,
    Frame,
    Handler,
    TypedParser,
    decoder,
)

if TYPE_CHECKING:
    from microservices.data_collector.exchanges.okx.exchange import Okx

# v5 public/business channels a market does not parse are "ignored", others "unknown_topic"
KNOWN_CHANNELS: Final = frozenset(
    {*wire.FRAMES, "books", "books5", "bbo-tbt", "books-l2-tbt", "books50-l2-tbt",
     "trades-all", "price-limit", "estimated-price", "opt-summary", "instruments",
     "status", "candle3m", "candle5m", "candle1H", "candle1D"}
)  # fmt: skip
DECODERS: Final[dict[str, Decode]] = {name: decoder(m) for name, m in wire.FRAMES.items()}
decode_envelope: Final = decoder(wire.Envelope)
CHANNEL_AT: Final = len(wire.CHANNEL_PREFIX)
HOUR_MS: Final = 3_600_000
CONTROL_EVENTS: Final = frozenset({"subscribe", "unsubscribe", "notice", "channel-conn-count"})
Sizing = tuple[Head, float, bool]  # record header, contract value, inverse


def channel_reason(channel: str) -> str:
    return "ignored" if channel in KNOWN_CHANNELS else "unknown_topic"


def event_reason(event: str | None) -> str:
    """Frames with an `event`: acks and notices are control frames, `error` a venue error."""
    if event == "error":
        return "venue_error"
    if event in CONTROL_EVENTS:
        return "ignored"
    return "unknown_event"


class OkxParser(TypedParser):
    """Parser of one OKX connection; the channel of `arg` picks the frame model."""

    def __init__(self, exchange: Okx) -> None:
        self._decoders = {k: v for k, v in DECODERS.items() if k in exchange.parsed_channels}
        super().__init__(exchange)
        self._sizing: dict[str, Sizing] = {}
        self._marks: dict[str, float] = {}  # venue symbol -> last mark price
        self._trade_ids = TradeDeduper()
        self._intervals = exchange.funding_intervals

    def decoder(self) -> Decode:
        return self._decode_frame

    def handlers(self) -> Mapping[type[msgspec.Struct], Handler]:
        return {
            wire.TickerFrame: self._tickers,
            wire.TradeFrame: self._trades,
            wire.CandleFrame: self._candles,
            wire.FundingFrame: self._funding,
            wire.OpenInterestFrame: self._open_interest,
            wire.MarkFrame: self._mark,
            wire.IndexFrame: self._index,
            wire.LiquidationFrame: self._liquidations,
        }

    def _decode_frame(self, frame: Frame) -> Any:
        """The frame's model by its channel, read from the text when it starts with `arg`
        (as OKX writes it), else from a first decode of the envelope."""
        if type(frame) is str and frame.startswith(wire.CHANNEL_PREFIX):
            decode = self._decoders.get(frame[CHANNEL_AT : frame.find('"', CHANNEL_AT)])
            if decode is not None:
                return decode(frame)
        if frame in ("pong", b"pong"):
            raise Dropped("ignored")
        envelope = decode_envelope(frame)
        if envelope.event is not None or envelope.arg is None:
            raise Dropped(event_reason(envelope.event))
        decode = self._decoders.get(envelope.arg.channel)
        if decode is None:
            raise Dropped(channel_reason(envelope.arg.channel))
        return decode(frame)

    def classify(self, frame: Frame) -> str:
        try:
            msg = orjson.loads(frame)
        except orjson.JSONDecodeError:
            return "malformed"
        arg = msg.get("arg") if isinstance(msg, dict) else None
        channel = arg.get("channel") if isinstance(arg, dict) else None
        if not isinstance(channel, str):
            return "malformed"
        return "malformed" if channel in self._decoders else channel_reason(channel)

    def _sized(self, vsym: str) -> Sizing:
        """Header and contract terms of a frame's instrument (cached per venue symbol)."""
        sizing = self._sizing.get(vsym)
        if sizing is None:
            head = self._heads.get(vsym) or self._head(vsym)
            inst = self.exchange.listed_instrument(vsym)
            if inst is None or inst.market == "spot":
                sizing = (head, 1.0, False)
            else:
                sizing = (head, inst.contract_size, inst.inverse)
            self._sizing[vsym] = sizing
        return sizing

    @staticmethod
    def _base(sizing: Sizing, size: float, px: float) -> float:
        """Contracts -> base units: linear x value, inverse x USD value / price."""
        value = sizing[1]
        return size * value / px if sizing[2] else size * value

    # ----------------------------------------------------------------------- handlers
    def _tickers(self, msg: wire.TickerFrame, recv_ms: int) -> list[AnyRaw]:
        out: list[AnyRaw] = []
        for t in msg.data:
            sizing = self._sized(t.instId)
            bid, ask, bid_sz, ask_sz = t.bidPx, t.askPx, t.bidSz, t.askSz
            if not (type(bid) is float and type(ask) is float):
                raise Dropped("no_quote")
            if type(bid_sz) is not float or type(ask_sz) is not float:
                raise Dropped("no_quote")
            if bid > ask:
                raise Dropped("crossed_quote")
            last = t.last if type(t.last) is float else None
            out.append(
                build.ticker(sizing[0], ts_ms=t.ts, recv_ms=recv_ms, bid=bid,
                             bid_size=self._base(sizing, bid_sz, bid), ask=ask,
                             ask_size=self._base(sizing, ask_sz, ask), last=last)
            )  # fmt: skip
        return out

    def _trades(self, msg: wire.TradeFrame, recv_ms: int) -> list[AnyRaw]:
        trades = []
        for t in msg.data:
            if not t.tradeId:
                raise BadMessage("empty tradeId")
            sizing = self._sized(t.instId)
            trades.append(
                build.trade(sizing[0], ts_ms=t.ts, recv_ms=recv_ms, price=t.px,
                            size=self._base(sizing, t.sz, t.px), side=t.side,
                            trade_id=t.tradeId)
            )  # fmt: skip
        seen = self._trade_ids.seen  # ids claimed once all are valid
        out: list[AnyRaw] = [t for t in trades if not seen(t.symbol, t.trade_id)]
        if not out:
            raise Dropped("duplicate")
        if len(out) < len(trades):
            self.stats.reject("duplicate", msg.arg.channel)
        return out

    def _candles(self, msg: wire.CandleFrame, recv_ms: int) -> list[AnyRaw]:
        """candle1m rows; the index and mark candles only prove the feed alive."""
        if msg.arg.channel != "candle1m":
            return []
        head = self._sized(msg.arg.instId)[0]
        spot = self.exchange.market == "spot"
        out: list[AnyRaw] = []
        for row in msg.data:
            o, h, low, c = price(row[1]), price(row[2]), price(row[3]), price(row[4])
            check_ohlc(o, h, low, c)
            if row[8] not in ("0", "1"):
                raise BadMessage(f"bad confirm {row[8]!r}")
            volume = qty(row[5] if spot else row[6])  # base units: vol (spot), volCcy (swap)
            start = epoch_ms(row[0])
            out.append(
                build.kline(head, ts_ms=start, recv_ms=recv_ms, open_time_ms=start,
                            interval="1m", open=o, high=h, low=low, close=c, volume=volume,
                            closed=row[8] == "1")
            )  # fmt: skip
        return out

    def _funding(self, msg: wire.FundingFrame, recv_ms: int) -> list[AnyRaw]:
        """Current rate with its settlement time; the interval is the gap to the next one."""
        out: list[AnyRaw] = []
        for f in msg.data:
            head = self._sized(f.instId)[0]
            if type(f.fundingRate) is not float:
                raise Dropped("no_rate")
            settle, after = f.fundingTime, f.nextFundingTime
            interval = self._intervals.get(head["symbol"], self.exchange.default_funding_interval_h)
            if type(settle) is int and type(after) is int and after > settle:
                interval = self._intervals[head["symbol"]] = (after - settle) / HOUR_MS
            out.append(
                build.funding(head, ts_ms=f.ts if type(f.ts) is int else recv_ms,
                              recv_ms=recv_ms, funding_rate=f.fundingRate,
                              funding_interval_h=interval,
                              next_funding_time_ms=settle if type(settle) is int else None,
                              mark_price=self._marks.get(f.instId))
            )  # fmt: skip
        return out

    def _open_interest(self, msg: wire.OpenInterestFrame, recv_ms: int) -> list[AnyRaw]:
        """`oi` contracts (x the listing's contract size = base units or USD) and `oiUsd`."""
        out: list[AnyRaw] = []
        for i in msg.data:
            usd = i.oiUsd if type(i.oiUsd) is float else None
            out.append(
                build.open_interest(self._sized(i.instId)[0], ts_ms=i.ts, recv_ms=recv_ms,
                                    open_interest=i.oi, open_interest_usd=usd)
            )  # fmt: skip
        return out

    def _mark(self, msg: wire.MarkFrame, recv_ms: int) -> list[AnyRaw]:
        """Mark prices (every 200 ms while they move, every 10 s otherwise): kept for the next
        funding record; no record of their own."""
        for m in msg.data:
            self._sized(m.instId)
            self._marks[m.instId] = m.markPx
        return []

    def _index(self, msg: wire.IndexFrame, recv_ms: int) -> list[AnyRaw]:
        """Index tickers (spot): no record, but they flow while nothing trades."""
        return []

    def _liquidations(self, msg: wire.LiquidationFrame, recv_ms: int) -> list[AnyRaw]:
        """instType-wide: items of instruments not followed are skipped (counted once)."""
        out: list[AnyRaw] = []
        unfollowed = ""
        for item in msg.data:
            try:
                sizing = self._sized(item.instId)
            except Dropped as exc:
                unfollowed = exc.reason
                continue
            out.extend(
                build.liquidation(sizing[0], ts_ms=d.ts, recv_ms=recv_ms, price=d.bkPx,
                                  size=self._base(sizing, d.sz, d.bkPx), side=d.side)
                for d in item.details
            )  # fmt: skip
        if not out and unfollowed:
            raise Dropped(unfollowed)
        return out
