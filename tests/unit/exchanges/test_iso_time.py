"""`_iso_time.iso_ms` against the reference `parse_iso_ms`: the same epoch ms, or the same
exception type, for generated times of every fraction length, malformed and near-miss texts,
leap days, the year bounds, and every `time` string in the Coinbase captures."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from microservices.common.clock import parse_iso_ms
from microservices.data_collector.exchanges._iso_time import iso_epoch_ms, iso_ms
from microservices.data_collector.exchanges.base import epoch_ms
from tests.fixture_paths import capture_frames, local_fixture, shared_fixture


def outcome(fn: Any, value: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(value)
    except Exception as exc:  # the exception type must match too
        return "error", type(exc)


def reference_epoch_ms(value: Any) -> int:
    return epoch_ms(parse_iso_ms(value))


def assert_same(value: Any) -> None:
    assert outcome(iso_ms, value) == outcome(parse_iso_ms, value), value
    assert outcome(iso_epoch_ms, value) == outcome(reference_epoch_ms, value), value


def coinbase_text(moment: datetime, digits: int) -> str:
    """The Coinbase shape: 'YYYY-MM-DDTHH:MM:SS[.f..]Z' with `digits` fraction digits."""
    text = moment.isoformat(timespec="seconds")
    fraction = f"{moment.microsecond:06d}"[:digits]
    return f"{text}.{fraction}Z" if digits else f"{text}Z"


@settings(max_examples=3000)
@given(
    moment=st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)),
    digits=st.integers(0, 9),
)
@example(moment=datetime(2021, 4, 17, 18, 24, 6, 1000), digits=6)
@example(moment=datetime(2024, 2, 29, 23, 59, 59, 999999), digits=6)
@example(moment=datetime(1, 1, 1), digits=0)
@example(moment=datetime(9999, 12, 31, 23, 59, 59, 999999), digits=6)
def test_generated_times(moment: datetime, digits: int) -> None:
    text = coinbase_text(moment, digits)
    if digits > 6:
        text = text[:-1] + "7" * (digits - 6) + "Z"
    assert_same(text)


@settings(max_examples=2000)
@given(st.integers(0, 10**15 * 3), st.integers(0, 6))
def test_every_millisecond_near_now(us_offset: int, digits: int) -> None:
    """Every millisecond of epoch_ms' range 2009..2100, with 0-6 fraction digits."""
    moment = datetime(2009, 1, 1) + timedelta(microseconds=us_offset)
    assert_same(coinbase_text(moment, digits))


def test_rounding_cases_agree() -> None:
    for ms in range(1000):
        for extra in ("000", "001", "999", ""):
            assert_same(f"2021-04-17T18:24:06.{ms:03d}{extra}Z")


@pytest.mark.parametrize(
    "text",
    [
        "2024-02-29T12:00:00.5Z",  # leap day
        "2023-02-29T12:00:00.5Z",  # not a leap year
        "2100-02-29T00:00:00Z",
        "2000-02-29T00:00:00Z",
        "0001-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999Z",
        "2100-01-01T00:00:00.001Z",  # just past epoch_ms' upper bound
        "2008-12-31T23:59:59.999Z",  # just before its lower bound
        "2021-04-17T18:24:60Z",
        "2021-04-17T24:00:00Z",
        "2021-04-17T23:60:00Z",
        "2021-13-01T00:00:00Z",
        "2021-04-31T00:00:00Z",
        "2021-04-17T18:24:06.Z",
        "2021-04-17T18:24:06.1234567Z",
        "2021-04-17T18:24:06,123Z",
        "2021-04-17 18:24:06.123Z",
        "2021-04-17T18:24:06.123+00:00",
        "2021-04-17T18:24:06.123+01:00Z",
        "2021-04-17T18:24:06.123-00:00Z",
        "2021-04-17T18:24:06.123ZZ",
        "2021-04-17T18:24:06.123z",
        " 2021-04-17T18:24:06.123Z",
        "2021-04-17T18:24:06.123Z ",
        "2021-04-17T18:24:06.123Z\n",
        "20210417T182406Z",
        "2021-W16-6T18:24:06Z",
        "2021W166T18Z",
        "2021-107T18:24Z",
        "2021-04-17T18Z",
        "2021-04-17T18:24Z",
        "2021-04-17TZ",
        "2021-04-17Z",
        "2021-04-17",
        "2021W01Z",
        "2021-04-17T１８:24:06Z",  # non-ASCII digits
        "2021-04-17T18:24:06.1_2Z",
        "2021-04-17T18:24:+6Z",
        "2021-04-17\ud800T18:24:06Z",
        "2021-04-17T18:24:06.123456",
        "Z",
        "",
        "Zulu",
    ],
)
def test_edge_texts(text: str) -> None:
    assert_same(text)


@pytest.mark.parametrize("value", [None, 1618683846123, 1.5, b"2021-04-17T18:24:06Z", True])
def test_non_strings(value: Any) -> None:
    assert_same(value)


ISO_CHARS = "0123456789-:T.Z+ ,Wt z\u0661"


@settings(max_examples=3000)
@given(
    st.one_of(
        st.text(alphabet=ISO_CHARS, max_size=32),
        st.builds(
            lambda text, i, ch: text[:i] + ch + text[i + 1 :],
            st.builds(coinbase_text, st.datetimes(), st.integers(0, 6)),
            st.integers(0, 27),
            st.sampled_from(ISO_CHARS),
        ),
    )
)
def test_near_miss_texts(text: str) -> None:
    assert_same(text)


TIME = re.compile(r'"time":\s*"([^"]*)"')


def test_capture_times() -> None:
    paths = sorted(local_fixture("exchanges/coinbase").glob("*.jsonl"))
    paths += sorted(shared_fixture("coinbase/ws").glob("*.jsonl"))
    times = [t for p in paths for frame in capture_frames(Path(p)) for t in TIME.findall(frame)]
    assert len(times) > 1000
    for text in times:
        assert_same(text)


def test_result_is_utc_epoch() -> None:
    moment = datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)
    assert iso_ms("2023-11-14T22:13:20.123456Z") == int(moment.timestamp() * 1000)


@pytest.mark.parametrize(
    "text",
    ["2038-08-18T21:08:35.423Z", "2038-02-03T09:57:52.148000Z", "2038-06-03T00:43:42.002Z"],
)
def test_whole_milliseconds_are_exact(text: str) -> None:
    """`int(dt.timestamp() * 1000)` gave 1 ms less for these (float rounding of the product);
    both parsers now floor the exact microsecond delta."""
    exact = (datetime.fromisoformat(text[:-1]) - datetime(1970, 1, 1)) // timedelta(milliseconds=1)
    assert exact % 1000 == int(text[20:23])
    assert parse_iso_ms(text) == iso_ms(text) == iso_epoch_ms(text) == exact
