"""`normalize`'s chunked bytes writer gives exactly the text the per-record writer gave:
`orjson.dumps(encode_raw(record)).decode() + "\\n"` for every record, in order."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from microservices.common.schemas import encode_raw
from microservices.data_collector import capture_read, exchanges, normalize
from microservices.data_collector.exchanges import EXCHANGES
from tests.fixture_paths import local_fixture

VENUES = exchanges.venue_ids()


def capture(venue: str, tmp_path: Path, copies: int) -> Path:
    files = sorted(local_fixture(f"exchanges/{venue}").glob("ws_*.jsonl"))
    assert files, venue
    path = tmp_path / f"{venue}.jsonl"
    path.write_bytes(b"".join(f.read_bytes() for f in files) * copies)
    return path


def per_record_text(venue: str, path: Path) -> str:
    """The output of the writer before the change, record by record."""
    exchange = EXCHANGES[venue]([], ws_url="", rest_url="")
    exchange.follow_any()  # what normalize follows without a listing: all the rule names
    parser = exchange.new_parser()
    out = []
    for frame, ts_ms in capture_read.capture_frames(path):
        assert ts_ms is not None  # the repo's captures carry `ts`: no clock in the output
        for record in parser.parse(frame, ts_ms):
            out.append(orjson.dumps(encode_raw(record)).decode() + "\n")
    return "".join(out)


@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize("binary", [False, True], ids=["text-only", "text-over-buffer"])
def test_chunked_writer_output_is_unchanged(
    venue: str, binary: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(normalize, "CHUNK_RECORDS", 3)  # many chunks, and a partial last one
    path = capture(venue, tmp_path, copies=3)
    want = per_record_text(venue, path)
    assert want
    if binary:
        raw = io.BytesIO()
        out: io.TextIOBase = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        out.write("")  # pending text must go out before the bytes
        normalize.normalize_file(venue, str(path), out)  # type: ignore[arg-type]
        out.flush()
        got = raw.getvalue().decode()
    else:
        text = io.StringIO()
        normalize.normalize_file(venue, str(path), text)
        got = text.getvalue()
    assert got == want
