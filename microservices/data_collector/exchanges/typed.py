"""The one WebSocket parser skeleton every venue uses: decode -> dispatch -> emit -> count.

A venue supplies its typed wire model (msgspec Structs, tagged unions where the wire has a
type field), a decoder into it, one handler per message type and `classify()`, which says
why a frame its model refused was rejected. `TypedParser` owns the rest: the try/except, the
reject reasons, the ParseStats counting, the symbol seam (`_symbol`, `_head`) and, through
`VenueParser.parse_with_liveness`, which frames prove the feed alive. Shared wire value types
(`Price`, `Size`, `Rate`, `EpochMs`) live here too. Pure: no I/O, no clock.
"""

from __future__ import annotations

import sys
from abc import abstractmethod
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final

import msgspec

from microservices.common.records import AnyRaw
from microservices.common.schema_fields import MAX_TS_MS, MIN_TS_MS
from microservices.data_collector.exchanges import _records
from microservices.data_collector.exchanges._records import Head
from microservices.data_collector.exchanges.base import (
    PARSE_ERRORS,
    Dropped,
    Exchange,
    VenueParser,
)

Frame = str | bytes
Decode = Callable[[Frame], Any]
Handler = Callable[[Any, int], list[AnyRaw]]

# ------------------------------------------------------------------ wire value types
# Decoders run with strict=False, so these accept a JSON number or a numeric string written as
# a JSON number (no spaces, "_", "+", leading zeros or bare "."), never a boolean or null;
# "-0" reads as 0.0. Bounds are checked by msgspec: NaN fails every bound, and the finite
# maximum excludes inf and "1e400".
FLOAT_MAX: Final = sys.float_info.max
Price = Annotated[float, msgspec.Meta(gt=0.0, le=FLOAT_MAX)]  # finite, > 0
Size = Annotated[float, msgspec.Meta(ge=0.0, le=FLOAT_MAX)]  # finite, >= 0
Rate = Annotated[float, msgspec.Meta(gt=-1.0, lt=1.0)]  # funding rate, |x| < 1
# epoch milliseconds within 2009..2100 (a JSON integer, or an integral number or string)
EpochMs = Annotated[int, msgspec.Meta(ge=MIN_TS_MS, le=MAX_TS_MS)]
# Flags and ids that must be exactly a JSON bool or integer are typed `Any` and checked by the
# handler (strict=False would read "1" or 1 as True, and "17" as 17).
U64_MAX: Final = 2**64 - 1


class Wire(msgspec.Struct, gc=False):
    """Base of wire message Structs. Unknown fields are skipped, so a field a venue adds
    later never breaks parsing; only the fields a handler reads are declared."""


def decoder(model: Any) -> Decode:
    """The lax (numeric strings -> numbers) JSON decoder of `model`."""
    return msgspec.json.Decoder(model, strict=False).decode


class TypedParser(VenueParser):
    """Skeleton of a venue's WebSocket parser: `parse()` decodes a frame with the venue's
    decoder, calls the handler of the decoded message's type and counts what it emitted.

    Handlers return records, raise `Dropped(reason)` to reject a frame on purpose, or raise
    anything in PARSE_ERRORS (BadMessage, ValueError, ...) for "malformed". A frame the
    decoder refuses (msgspec.DecodeError) is counted under `classify(frame)`. Side
    rejections of a frame that still emits (a duplicate among several trades) go through
    `self.stats.reject` directly.
    """

    def __init__(self, exchange: Exchange) -> None:
        super().__init__(exchange)
        self._heads: dict[str, Head] = {}  # venue symbol as received -> record header
        # The record builders (`_records`). `normalize` swaps in `_lines.LineBuilder`, whose
        # records are their JSON lines; the Binance handlers build through it (the other
        # venues' handlers and state build with `_records`: normalize encodes their records).
        self.build: Any = _records
        self._decode: Decode = self.decoder()
        self._handlers: Mapping[type[msgspec.Struct], Handler] = self.handlers()

    @abstractmethod
    def decoder(self) -> Decode:
        """Frame -> typed message; raises msgspec.DecodeError when the model does not fit
        (or Dropped for a frame recognised as one to drop)."""

    @abstractmethod
    def handlers(self) -> Mapping[type[msgspec.Struct], Handler]:
        """The handler of each message type the decoder returns."""

    def classify(self, frame: Frame) -> str:
        """The reject reason of a frame the decoder refused ("malformed" unless the venue
        recognises it as an ignored, unknown or control frame)."""
        return "malformed"

    def parse(self, frame: Frame, recv_ms: int) -> list[AnyRaw]:
        try:
            msg = self._decode(frame)
            records = self._handlers[type(msg)](msg, recv_ms)
        except Dropped as exc:
            self.stats.reject(exc.reason, frame)
            return []
        except msgspec.DecodeError:  # a ValueError: before PARSE_ERRORS
            self.stats.reject(self.classify(frame), frame)
            return []
        except (*PARSE_ERRORS, RecursionError):  # msgspec: nesting deeper than the stack
            self.stats.reject("malformed", frame)
            return []
        emitted = self.stats.emitted
        for record in records:
            kind = record.type
            emitted[kind] = emitted.get(kind, 0) + 1
        return records

    # ------------------------------------------------------------------ symbol seam
    def _head(self, vsym: str) -> Head:
        """The record header of a frame's venue symbol (`Exchange.record_head`), cached per
        spelling received; Dropped("not_followed" or "unknown_symbol") when the symbol is not
        followed. Handlers inline the cache hit: `self._heads.get(s) or self._head(s)`."""
        head = self._heads.get(vsym)
        if head is None:
            found = self.exchange.record_head(vsym)
            if found is None:
                raise Dropped(self.exchange.unfollowed_reason(vsym))
            head = self._heads[vsym] = found
        return head
