"""The instruments `normalize` follows, in order of precedence: the venue's REST listing
answers recorded in the capture (`"dir": "http"` lines whose URL is the venue's listing
endpoint, every page), an `--instruments FILE` (a listing JSON as the venue serves it, or the
collector's listing cache file), or else the venue's naming rule, which names each symbol as
frames bring it. With a listing, a symbol it lacks is `unknown_symbol`; a listed instrument
never is.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

import orjson

from microservices.common.catalog import Catalog
from microservices.common.errors import FatalError
from microservices.common.instruments import Instrument, ParsedListing
from microservices.data_collector.exchanges.base import Exchange
from microservices.data_collector.listing_cache import ListingCacheError, decode_listing

Source = Literal["capture", "file", "rule"]
PAGE_PARAMS = frozenset({"cursor", "limit"})  # what differs between pages of one listing


def is_listing_url(exchange: Exchange, url: object) -> bool:
    """Whether a recorded request URL is (a page of) the venue's listing endpoint: same path
    ending, and the same values for the request's own parameters (Bybit's category)."""
    request = exchange.listing_request(None)
    if request is None or not isinstance(url, str):
        return False
    parts = urlsplit(url)
    if not parts.path.endswith(request.path):
        return False
    query = dict(parse_qsl(parts.query))
    wanted = {k: v for k, v in request.params.items() if k not in PAGE_PARAMS}
    return all(query.get(k, v) == v for k, v in wanted.items())


def capture_listing(exchange: Exchange, lines: Iterable[bytes]) -> ParsedListing | None:
    """The listing pages recorded in a capture's `"dir": "http"` lines; None when none is."""
    found: ParsedListing | None = None
    for line in lines:
        if b'"http"' not in line:
            continue
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(item, dict) or item.get("dir") != "http":
            continue
        if not is_listing_url(exchange, item.get("url")) or item.get("frame") is None:
            continue
        page, _ = exchange.parse_listing(item["frame"])
        found = found or ParsedListing()
        found.extend(page)
    return found


def file_listing(exchange: Exchange, path: str) -> list[Instrument]:
    """Instruments of `exchange` in a listing file: the collector's cache format, else the
    venue's own listing JSON. FatalError when the file is missing or holds none of them."""
    source = Path(path)
    if not source.is_file():
        raise FatalError(f"no such instruments file: {path}")
    data = source.read_bytes()
    try:
        cached = decode_listing(data)
    except ListingCacheError:
        instruments = exchange.parse_listing(data)[0].instruments
    else:
        instruments = [inst for inst in cached.instruments if inst.venue == exchange.name]
    if not instruments:
        raise FatalError(f"{path} lists no instrument of {exchange.name}")
    return instruments


def follow_instruments(
    exchange: Exchange, lines: Iterable[bytes], instruments_file: str | None
) -> tuple[Source, int]:
    """Give `exchange` the capture's instruments (module docstring) and follow all of them;
    (where they came from, how many a listing held: 0 for the naming rule)."""
    listed = capture_listing(exchange, lines)
    source: Source = "capture"
    instruments = None if listed is None else listed.instruments
    if instruments is None and instruments_file is not None:
        source, instruments = "file", file_listing(exchange, instruments_file)
    if instruments is None:
        source, instruments = "rule", []
    venues = [exchange.name] if source != "rule" else []
    exchange.catalog = Catalog(
        instruments, quote_order={exchange.name: exchange.quote_order}, listed=venues,
        contract_order={exchange.name: exchange.contract_order},
    )  # fmt: skip
    exchange.follow_any()
    return source, len(instruments)
