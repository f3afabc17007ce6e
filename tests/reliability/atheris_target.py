"""Coverage-guided fuzz target (atheris/libFuzzer) for the venue parsers and stream decoders.

Run by tests/reliability/test_atheris.py as a subprocess (libFuzzer exits the process when
it is done) with a bounded number of runs:

    python tests/reliability/atheris_target.py -runs=20000 -seed=1 CORPUS_DIR

The first input byte picks the target: one of the WS parsers, a REST parser, or a decoder.
The rest of the input is the frame (parsers) or a field list (decoders). Any exception
other than the documented ones (BadMessage from REST parsers, SchemaError from decoders)
and any record that does not survive the exchange.raw schema is a crash.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import atheris
import orjson

# Import the project from the checkout through the normal path finder (the editable
# install's own finder bypasses atheris's import hook, which instruments the bytecode).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
with atheris.instrument_imports(include=["microservices"]):
    from microservices.common import derived_schemas, schemas
    from microservices.common.errors import BadMessage, SchemaError
    from microservices.data_collector.exchanges import EXCHANGES

RECV_MS = 1_700_000_000_999
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
VENUES = sorted(EXCHANGES)
DECODERS = (
    schemas.RAW,
    derived_schemas.NORMALIZED,
    derived_schemas.FEATURES,
    derived_schemas.STATUS,
    derived_schemas.ALERTS,
)
REST_METHODS = ("parse_klines", "parse_funding_history", "parse_open_interest_history",
                "parse_current_funding", "parse_current_open_interest")  # fmt: skip
TARGETS = len(VENUES) * 2 + len(DECODERS)


def exchange(index: int) -> Any:
    return EXCHANGES[VENUES[index % len(VENUES)]](
        SYMBOLS, "wss://fuzz.invalid", "https://x.invalid"
    )


def check_records(records: Any) -> None:
    if not isinstance(records, list):
        raise AssertionError(f"parser returned {type(records).__name__}, not a list")
    for record in records:
        if schemas.RAW.decode(schemas.RAW.encode(record)) != record:
            raise AssertionError(f"record does not round-trip: {record!r}")


def fuzz_ws(index: int, frame: bytes) -> None:
    parser = exchange(index).new_parser()
    check_records(parser.parse(frame, RECV_MS))
    check_records(parser.parse(frame.decode("utf-8", "replace"), RECV_MS))


def fuzz_rest(index: int, frame: bytes) -> None:
    try:
        payload = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return
    ex = exchange(index)
    method = REST_METHODS[len(frame) % len(REST_METHODS)]
    try:
        ex.check_rest_payload(payload)
        check_records(getattr(ex, method)("BTCUSDT", payload, RECV_MS))
    except BadMessage:
        return


def fuzz_decoder(index: int, data: bytes) -> None:
    schema = DECODERS[index]
    parts = data.split(b"\x00")
    entry = dict(zip(parts[::2], parts[1::2], strict=False))
    try:
        decoded = schema.decode(entry)
    except SchemaError:
        return
    wire = schema.encode(decoded)
    if schema.encode(schema.decode(wire)) != wire:
        raise AssertionError(f"wire form is not stable: {wire!r}")


def test_one_input(data: bytes) -> None:
    if not data:
        return
    target, rest = data[0] % TARGETS, data[1:]
    if target < len(VENUES):
        fuzz_ws(target, rest)
    elif target < 2 * len(VENUES):
        fuzz_rest(target - len(VENUES), rest)
    else:
        fuzz_decoder(target - 2 * len(VENUES), rest)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
