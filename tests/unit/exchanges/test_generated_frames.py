"""Every venue's parser on generated frames (frame_strategies.py) and on real frames with one
value replaced: nothing raises, every record is valid, counted and survives the schema, and a
frame that yields nothing is rejected under at most one reason (exactly one for Binance).
These are the cases of the former fast-path/reference differential tests, now checking what
the one typed parser does."""

from __future__ import annotations

import math
import re

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microservices.data_collector.exchanges.typed import Price, Size, decoder
from tests.unit.exchanges import frame_strategies as fs
from tests.unit.exchanges.parser_checks import check, make, typed_venues
from tests.unit.exchanges.test_typed_parsers import real_frames, renamed

GENERATED = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TYPED = typed_venues()
# the payload strategies nest many value strategies: their repr is long, and never shown
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")


@GENERATED
@given(fs.frame_sequence(fs.BINANCE_FRAME))
def test_binance_generated_frames(frames: list[fs.Frame]) -> None:
    for venue in ("binance", "binance_futures"):
        parser = make(venue)
        for frame in frames:
            check(parser, frame, one_payload=True)


@GENERATED
@given(fs.frame_sequence(fs.BYBIT_FRAME))
def test_bybit_generated_frames(frames: list[fs.Frame]) -> None:
    for venue in {"bybit", "bybit_spot"} & set(TYPED):
        parser = make(venue)
        for frame in frames:
            check(parser, frame)


@GENERATED
@given(fs.frame_sequence(fs.COINBASE_FRAME))
def test_coinbase_generated_frames(frames: list[fs.Frame]) -> None:
    if "coinbase" not in TYPED:
        return
    parser = make("coinbase")
    for frame in frames:
        check(parser, frame)


REAL = {venue: [f for f in map(renamed, real_frames(venue)) if f] for venue in TYPED}


@st.composite
def mutated_real(draw: st.DrawFn, venue: str) -> str:
    """A real frame of `venue` (renamed to a followed symbol) with one value of its payload,
    or of an object nested in it, replaced by junk, a numeric string or a time."""
    msg = orjson.loads(draw(st.sampled_from(REAL[venue])))
    target = msg.get("data", msg)
    if isinstance(target, list) and target:
        target = target[0]
    nested = [v for v in target.values() if isinstance(v, dict)] if isinstance(target, dict) else []
    if nested and draw(st.booleans()):
        target = draw(st.sampled_from(nested))
    if not isinstance(target, dict) or not target:
        return fs.dumps(msg)
    key = draw(st.sampled_from(sorted(target)))
    target[key] = "__MARK__"
    raw = draw(st.one_of(fs.junk, fs.number_string, fs.EPOCH))
    return fs.dumps(msg).replace(fs.dumps("__MARK__"), raw, 1)


@pytest.mark.parametrize("venue", TYPED)
def test_mutated_real_frames(venue: str) -> None:
    @GENERATED
    @given(st.lists(mutated_real(venue), min_size=1, max_size=5))
    def run(frames: list[str]) -> None:
        parser = make(venue)
        for frame in [*REAL[venue][:5], *frames]:
            check(parser, frame, one_payload=venue.startswith("binance"))

    run()


JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")


class One(msgspec.Struct):
    price: Price
    size: Size


@GENERATED
@given(fs.decimal_text)
def test_numeric_strings_read_like_float(text: str) -> None:
    """The wire types read a numeric string written as a JSON number (no leading zeros, no
    bare "." at either end) as `float()` does ("-0" may lose its sign), and refuse the rest
    and anything out of bounds."""
    frame = fs.obj([("price", fs.dumps(text)), ("size", fs.dumps(text))])
    number = float(text)
    try:
        got = decoder(One)(frame)
    except msgspec.ValidationError:
        assert not (JSON_NUMBER.fullmatch(text) and 0.0 < number < math.inf)
        return
    assert JSON_NUMBER.fullmatch(text)
    assert got.price == got.size == number
