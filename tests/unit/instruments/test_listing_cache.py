"""The listing cache: round trip, format version, atomic file write, corrupt files, the diff
between two listings, and keeping the last good listing when a fresh one is implausible."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from microservices.common.instruments import Instrument, make_instrument
from microservices.data_collector.exchanges.coinbase.listing import parse_products
from microservices.data_collector.listing_cache import (
    FORMAT_VERSION,
    CachedListing,
    ListingCacheError,
    choose_listing,
    decode_listing,
    diff_listings,
    encode_listing,
    is_plausible,
    listing_path,
    read_listing,
    save_listing,
    write_listing,
)
from tests.fixture_paths import local_fixture

FETCHED_MS = 1_735_810_000_000


def spot(symbol: str, status: str = "trading", venue: str = "binance") -> Instrument:
    base, quote = symbol[:-4], symbol[-4:]
    return make_instrument(
        venue=venue, venue_symbol=symbol, base=base, quote=quote, market="spot", status=status
    )


def coinbase_listing() -> list[Instrument]:
    return parse_products(
        local_fixture("exchanges/coinbase/rest_products.json").read_bytes()
    ).instruments


def test_round_trip_keeps_every_field() -> None:
    instruments = coinbase_listing()
    future = make_instrument(venue="binance_futures", venue_symbol="BTCUSDT_251226", base="BTC",
                             quote="USDT", market="future", expiry_ms=1766736000000, tick_size=0.1,
                             funding_interval_h=None, settle="USDT")  # fmt: skip
    instruments.append(future)
    decoded = decode_listing(encode_listing("coinbase", instruments, FETCHED_MS))
    assert decoded == CachedListing(
        version=FORMAT_VERSION,
        venue="coinbase",
        fetched_ms=FETCHED_MS,
        instruments=tuple(instruments),
    )


@pytest.mark.parametrize(
    "data",
    [b"", b"{", b"[]", b'{"version": 1}', b'{"version": "1"}',
     b'{"version": 1, "venue": "x", "fetched_ms": 1, "instruments": [{"venue": "x"}]}',
     b'{"version": 1, "venue": "x", "fetched_ms": 1, "instruments": [{"venue": "x", "venue_symbol": "A",'
     b' "symbol": "A", "base": "A", "quote": "B", "market": "swap"}]}'],
)  # fmt: skip
def test_unusable_documents_raise_listing_cache_error(data: bytes) -> None:
    with pytest.raises(ListingCacheError):
        decode_listing(data)


def test_other_format_version_is_refused() -> None:
    document = msgspec.json.decode(encode_listing("binance", [spot("BTCUSDT")], FETCHED_MS))
    document["version"] = FORMAT_VERSION + 1
    with pytest.raises(ListingCacheError, match="format"):
        decode_listing(msgspec.json.encode(document))


def test_write_and_read_file(tmp_path: Path) -> None:
    path = listing_path(tmp_path / "cache", "coinbase")
    assert path.name == "coinbase.listing.json"
    assert read_listing(path) is None  # nothing cached yet
    save_listing(path, "coinbase", coinbase_listing(), FETCHED_MS)
    cached = read_listing(path)
    assert cached is not None
    assert (cached.venue, cached.fetched_ms, len(cached.instruments)) == ("coinbase", FETCHED_MS, 6)
    save_listing(path, "coinbase", coinbase_listing()[:2], FETCHED_MS + 1)  # replaced whole
    cached = read_listing(path)
    assert cached is not None and (cached.fetched_ms, len(cached.instruments)) == (
        FETCHED_MS + 1,
        2,
    )
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "binance.listing.json"
    save_listing(path, "binance", [spot("BTCUSDT")], FETCHED_MS)
    with pytest.raises(TypeError):
        write_listing(path, "not bytes")  # type: ignore[arg-type]
    cached = read_listing(path)
    assert cached is not None and cached.instruments == (spot("BTCUSDT"),)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_corrupt_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "bybit.listing.json"
    path.write_bytes(b'{"version": 1, "venue": "bybit", "fetch')
    with pytest.raises(ListingCacheError):
        read_listing(path)


@pytest.mark.parametrize("venue", ["../etc", "Binance", "", "a/b"])
def test_listing_path_rejects_odd_venue_ids(tmp_path: Path, venue: str) -> None:
    with pytest.raises(ValueError):
        listing_path(tmp_path, venue)


def test_diff_listings() -> None:
    old = [spot("BTCUSDT"), spot("ETHUSDT"), spot("LRCUSDT"), spot("XRPUSDT")]
    new = [spot("BTCUSDT"), spot("ETHUSDT", status="halted"), spot("XRPUSDT", status="delisted"),
           spot("SOLUSDT"), spot("BTCUSDT", venue="bybit_spot")]  # fmt: skip
    diff = diff_listings(old, new)
    assert [i.venue_symbol for i in diff.added] == [
        "SOLUSDT",
        "BTCUSDT",
    ]  # sorted by (venue, symbol)
    assert [i.venue for i in diff.added] == ["binance", "bybit_spot"]
    assert [i.venue_symbol for i in diff.removed] == ["LRCUSDT"]
    assert [(a.status, b.status) for a, b in diff.changed_status] == [
        ("trading", "halted"),
        ("trading", "delisted"),
    ]
    assert [i.venue_symbol for i in diff.delisted] == ["LRCUSDT", "XRPUSDT"]
    assert not diff.empty
    assert diff_listings(new, new).empty


def test_choose_listing_keeps_the_last_good_one() -> None:
    full = [spot(f"A{i}USDT") for i in range(10)]
    last_good = CachedListing(
        version=FORMAT_VERSION, venue="binance", fetched_ms=1, instruments=tuple(full)
    )
    fresh = CachedListing(
        version=FORMAT_VERSION, venue="binance", fetched_ms=2, instruments=tuple(full[:8])
    )
    truncated = CachedListing(
        version=FORMAT_VERSION, venue="binance", fetched_ms=3, instruments=tuple(full[:3])
    )
    empty = CachedListing(version=FORMAT_VERSION, venue="binance", fetched_ms=4, instruments=())
    assert choose_listing(last_good, fresh) is fresh
    assert choose_listing(last_good, None) is last_good  # the fetch failed
    assert choose_listing(last_good, truncated) is last_good  # lost 70 %: broken answer
    assert choose_listing(last_good, truncated, min_kept_fraction=0.3) is truncated
    assert choose_listing(last_good, empty) is last_good
    assert choose_listing(None, truncated) is truncated  # first start: anything non-empty
    assert choose_listing(None, empty) is None
    assert is_plausible(full, None)
    assert not is_plausible([], full)
