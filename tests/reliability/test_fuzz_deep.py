"""Long fuzz runs of every venue parser (WebSocket and REST) and every stream decoder.

The unit tests fuzz each parser with a few hundred examples; here each target gets
FUZZ_EXAMPLES examples (default 2,000) of arbitrary bytes/text, of real frames and REST
bodies with random deletions and replacements, plus a fixed corpus of adversarial input
(deep nesting, huge numbers, NaN literals, invalid UTF-8, megabyte frames). Contracts:
- WS parsers never raise; every record they return survives the exchange.raw schema;
- REST parsers raise nothing but BadMessage (the collector logs and skips those);
- stream decoders raise nothing but SchemaError, and what they accept re-encodes to a wire
  form that decodes and re-encodes to itself.
The number of examples each target ran is printed at the end of the run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microservices.common import derived_schemas, schemas
from microservices.common.errors import BadMessage, SchemaError
from microservices.common.schemas import RAW
from microservices.data_collector import exchanges
from microservices.data_collector.exchanges import EXCHANGES
from microservices.data_collector.exchanges.base import Exchange
from tests import factories as f
from tests.fixture_paths import capture_frames, local_fixture
from tests.reliability.helpers import measure

pytestmark = pytest.mark.slow
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2000"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,  # a long run should explore, not replay
)
RECV_MS = 1_700_000_000_999
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
REST_METHODS = (
    "parse_klines",
    "parse_funding_history",
    "parse_open_interest_history",
    "parse_current_funding",
    "parse_current_open_interest",
)


def exchange(venue: str) -> Exchange:
    return EXCHANGES[venue](SYMBOLS, "wss://fuzz.invalid", "https://fuzz.invalid")


def run_counted(label: str, body: Callable[..., None], *strategies: Any) -> None:
    """Run `body` under FUZZ with `strategies` and record how many examples it saw."""
    seen = [0]

    @FUZZ
    @given(st.tuples(*strategies))
    def fuzz(args: tuple[Any, ...]) -> None:
        seen[0] += 1
        body(*args)

    fuzz()
    measure(f"fuzz {label}", f"{seen[0]} examples", "-", None, "test_fuzz_deep")
    assert seen[0] >= min(EXAMPLES, 100)


def check_ws(venue: str, frame: str | bytes) -> None:
    parser = exchange(venue).new_parser()
    records = parser.parse(frame, RECV_MS)
    assert isinstance(records, list)
    for record in records:
        assert RAW.decode(RAW.encode(record)) == record


# ----------------------------------------------------------------------------- WS parsers


@pytest.mark.parametrize("venue", sorted(EXCHANGES))
def test_ws_parser_on_arbitrary_input(venue: str) -> None:
    frames = st.one_of(st.binary(max_size=2048), st.text(max_size=2048))
    run_counted(f"{venue} WS parser, arbitrary bytes/text", lambda fr: check_ws(venue, fr), frames)


def ws_frames(venue: str) -> list[Any]:
    """The repo's recorded frames of `venue` (every ws_*.jsonl), decoded."""
    folder = local_fixture(f"exchanges/{venue}")
    return [orjson.loads(t) for p in sorted(folder.glob("ws_*.jsonl")) for t in capture_frames(p)]


@pytest.mark.parametrize("venue", sorted(EXCHANGES))
def test_ws_parser_on_mutated_real_frames(venue: str) -> None:
    frames = mutated_json(ws_frames(venue)).map(orjson.dumps)
    run_counted(f"{venue} WS parser, mutated real frames", lambda fr: check_ws(venue, fr), frames)


def adversarial_frames() -> list[tuple[str, str | bytes]]:
    trade = ws_frames("binance")[0]
    deep = "[" * 100_000 + "]" * 100_000
    return [
        ("deep_arrays", deep),
        ("deep_objects", '{"a":' * 50_000 + "1" + "}" * 50_000),
        ("huge_int", '{"data":{"e":"aggTrade","a":' + "9" * 5_000 + "}}"),
        ("huge_float", orjson.dumps(trade).decode().replace('"p":"', '"p":"1e999999').encode()),
        ("nan_literal", b'{"e":"aggTrade","p":NaN,"q":Infinity}'),
        ("invalid_utf8", b'{"e":"\xff\xfe\xfd"}'),
        ("lone_surrogate", '{"e":"\ud800"}'),
        ("nul_bytes", b"\x00" * 4096),
        ("megabyte_string", '{"e":"' + "x" * (1 << 20) + '"}'),
        ("megabyte_list", '{"data":[' + ",".join(["{}"] * 200_000) + "]}"),
        ("duplicate_keys", b'{"e":"aggTrade","e":"kline","e":null}'),
        ("bom", "\ufeff" + orjson.dumps(trade).decode()),
        ("empty", b""),
        ("whitespace", " \t\r\n"),
        ("scalar", b"42"),
        ("null", b"null"),
    ]


@pytest.mark.parametrize("venue", sorted(EXCHANGES))
@pytest.mark.parametrize(("kind", "frame"), adversarial_frames(), ids=lambda v: str(v)[:16])
def test_ws_parser_on_adversarial_frames(venue: str, kind: str, frame: str | bytes) -> None:
    check_ws(venue, frame)


# ----------------------------------------------------------------------------- REST parsers


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["NaN", "-1", "0", "1e400", "", "BTCUSDT", "1700000000000", "-0.0"]),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
INDEX = st.integers(min_value=0, max_value=1_000)


def rest_bodies() -> list[Any]:
    bodies = []
    for venue in exchanges.venue_ids():
        folder = local_fixture(f"exchanges/{venue}")
        for path in sorted(folder.glob("rest_*.json")):
            bodies.append(orjson.loads(path.read_bytes()))
    return bodies


@st.composite
def mutated_json(draw: st.DrawFn, bodies: Sequence[Any]) -> Any:
    """A real frame or REST body with up to four nodes, anywhere in the tree, deleted or
    replaced by an arbitrary JSON value (wrong types, NaN, huge numbers, nesting)."""
    body = orjson.loads(orjson.dumps(bodies[draw(INDEX) % len(bodies)]))
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        node, path = body, []
        while isinstance(node, dict | list) and node and draw(st.booleans()):
            keys = sorted(node) if isinstance(node, dict) else list(range(len(node)))
            key = keys[draw(INDEX) % len(keys)]
            path.append((node, key))
            node = node[key]
        if not path:
            continue
        parent, key = path[-1]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[key]
        else:
            parent[key] = draw(JSON_VALUES)
    return body


def check_rest(venue: str, method: str, payload: Any) -> None:
    ex = exchange(venue)
    try:
        ex.check_rest_payload(payload)
        records = getattr(ex, method)("BTCUSDT", payload, RECV_MS)
    except BadMessage:
        return
    assert isinstance(records, list)
    for record in records:
        assert RAW.decode(RAW.encode(record)) == record


@pytest.mark.parametrize("venue", sorted(EXCHANGES))
def test_rest_parsers_on_arbitrary_and_mutated_bodies(venue: str) -> None:
    payloads = st.one_of(JSON_VALUES, mutated_json(rest_bodies()))
    run_counted(
        f"{venue} REST parsers (5 each), arbitrary/mutated bodies",
        lambda method, payload: check_rest(venue, method, payload),
        st.sampled_from(REST_METHODS),
        payloads,
    )


# ----------------------------------------------------------------------------- decoders

SCHEMAS = {
    "raw": (schemas.RAW, [schemas.RAW.encode(r) for r in f.raw_samples()]),
    "normalized": (derived_schemas.NORMALIZED, [derived_schemas.NORMALIZED.encode(f.snapshot())]),
    "features": (derived_schemas.FEATURES, [derived_schemas.FEATURES.encode(f.features())]),
    "status": (derived_schemas.STATUS, [derived_schemas.STATUS.encode(f.status())]),
    "alerts": (derived_schemas.ALERTS, [derived_schemas.ALERTS.encode(f.alert())]),
}
WIRE_TEXT = st.one_of(
    st.text(max_size=24),
    st.sampled_from(
        [
            "nan",
            "inf",
            "-inf",
            "-0",
            "1e308",
            "1e-320",
            "true",
            "",
            " 1",
            "0x10",
            "１２３",
            "BTCUSDT",
            "9" * 40,
            "1700000000.123",
        ]
    ),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers().map(str),
)


def check_decode(schema: Any, entry: dict[Any, Any]) -> None:
    try:
        decoded = schema.decode(entry)
    except SchemaError:
        return
    wire = schema.encode(decoded)  # derived streams round to 12 significant digits...
    assert schema.encode(schema.decode(wire)) == wire  # ...so the wire form is a fixed point


@st.composite
def mutated_entry(draw: st.DrawFn, goods: Sequence[dict[str, str]]) -> dict[Any, Any]:
    entry: dict[Any, Any] = dict(draw(st.sampled_from(goods)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        key = draw(st.sampled_from(sorted(entry))) if entry else "type"
        if draw(st.integers(min_value=0, max_value=3)) == 0:
            entry.pop(key, None)
        else:
            entry[key] = draw(WIRE_TEXT)
    if draw(st.booleans()):  # as redis-py hands them over
        entry = {k.encode(): v.encode("utf-8", "surrogatepass") for k, v in entry.items()}
    return entry


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_decoder_on_arbitrary_and_mutated_entries(name: str) -> None:
    schema, goods = SCHEMAS[name]
    entries = st.one_of(
        st.dictionaries(
            st.one_of(st.text(max_size=12), st.binary(max_size=12)),
            st.one_of(st.text(max_size=24), st.binary(max_size=24)),
            max_size=14,
        ),
        mutated_entry(goods),
    )
    run_counted(
        f"{name} decoder, arbitrary/mutated entries", lambda e: check_decode(schema, e), entries
    )


@pytest.mark.parametrize(
    "schema", [derived_schemas.STATUS, derived_schemas.ALERTS], ids=["status", "alerts"]
)
@pytest.mark.parametrize(
    "stamp", ["0023-12-21:20:15Z", "9999-12-31T23:59:59Z", "1970-01-01T00:00Z"]
)
def test_iso_times_out_of_range_are_rejected(schema: Any, stamp: str) -> None:
    """Found by the atheris run: year 0023 decoded, then its re-encoding ('23-12-21T...')
    did not; times outside 2009..2100 are now refused like exchange.raw's."""
    entry = (derived_schemas.STATUS.encode(f.status()) if schema is derived_schemas.STATUS else
             derived_schemas.ALERTS.encode(f.alert())) | {"timestamp": stamp}  # fmt: skip
    with pytest.raises(SchemaError, match="timestamp"):
        schema.decode(entry)
