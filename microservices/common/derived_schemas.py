"""Schemas of the streams the engine derives: `exchange.normalized`, `exchange.features`,
`exitbrain.status` and `exitbrain.alerts` (SPEC section 3; the `Schema` type is in `schemas`),
and of the collector's `exchange.listings`.

Floats are written with 12 significant digits (`encode_derived`); timestamps are seconds
(normalized, features) or ISO 8601 (status, alerts) as the seeds show them. Every funding
field here (`funding_delta`, `avg_funding_rate`, `<venue>_funding_8h`) is in percent per 8 h
(0.015 = 0.015 %); only `exchange.raw`'s `funding_rate` is a fraction per settlement interval.
"""

from __future__ import annotations

from typing import Final

from microservices.common.clock import iso_utc, ms_to_seconds_str
from microservices.common.errors import SchemaError
from microservices.common.futures_basis import decode_basis, encode_basis
from microservices.common.records import (
    ALERT_TYPES,
    ExitAlert,
    ExitStatus,
    FeatureVector,
    NewListing,
    NormalizedSnapshot,
    VenueQuote,
)
from microservices.common.schema_fields import (
    SYMBOL_RE,
    FieldSpec,
    decode_fields,
    encode_derived,
    encode_fields,
    parse_bool,
    parse_float,
    parse_int,
    parse_iso,
    parse_ms,
    require,
)
from microservices.common.schemas import Fields, Schema

# ---------------------------------------------------------------------- exchange.normalized

VENUE_FIELDS: Final = (
    "bid",
    "ask",
    "bid_size",
    "ask_size",
    "volume",
    "volume_usd",  # that volume in USD; absent without a USD price of the quote
    "funding_8h",  # percent per 8 h (0.01 = 0.01 %), perp venues with fresh funding only
    "open_interest_usd",  # contracts x contract size x price, in USD
    # the venue's fresh L2 book: depth within 10 / 50 bps of its mid in USD (absent without
    # a fresh book or a USD price of the quote), and (bid - ask) / (bid + ask) at 10 bps
    "bid_depth_10bps",
    "ask_depth_10bps",
    "bid_depth_50bps",
    "ask_depth_50bps",
    "imbalance_10bps",
)
NORMALIZED_FLOATS: Final = (
    "avg_price",
    "median_price",
    "price_divergence",
    "exchange_divergence",
    "funding_delta",  # max - min of perp funding, sign of their mean; percent per 8 h
    "avg_funding_rate",  # mean perp funding, percent per 8 h
    "volatility_factor",
    "arb_bps",
)


def encode_normalized(snap: NormalizedSnapshot) -> Fields:
    out: Fields = {"symbol": snap.symbol, "timestamp": ms_to_seconds_str(snap.ts_ms)}
    for name in NORMALIZED_FLOATS:
        out[name] = encode_derived(getattr(snap, name))
    out["num_exchanges"] = str(snap.num_exchanges)
    out["exchanges"] = ",".join(snap.venues)
    for venue, quote in snap.venues.items():
        out[f"{venue}_price"] = encode_derived(quote.price)
        for name in VENUE_FIELDS:
            value = getattr(quote, name)
            if value is not None:
                out[f"{venue}_{name}"] = encode_derived(value)
        out[f"{venue}_age_ms"] = str(quote.age_ms)
    out["best_bid"] = "" if snap.best_bid is None else encode_derived(snap.best_bid)
    out["best_bid_exchange"] = snap.best_bid_exchange or ""
    out["best_ask"] = "" if snap.best_ask is None else encode_derived(snap.best_ask)
    out["best_ask_exchange"] = snap.best_ask_exchange or ""
    for name in ("best_bid_size", "best_ask_size"):
        value = getattr(snap, name)
        out[name] = "" if value is None else encode_derived(value)
    out["excluded"] = ",".join(f"{venue}:{why}" for venue, why in snap.excluded.items())
    out.update(encode_basis(snap.basis))  # CME front month vs spot, when the group has one
    out["dvol"] = "" if snap.dvol is None else encode_derived(snap.dvol)
    return out


def _optional_float(entry: dict[str, str], name: str) -> float | None:
    text = entry.get(name, "")
    return None if text == "" else parse_float(name, text, "float")


def decode_normalized(entry: dict[str, str]) -> NormalizedSnapshot:
    symbol = require(entry, "symbol")
    if not SYMBOL_RE.match(symbol):
        raise SchemaError(f"field 'symbol': not a canonical symbol: {symbol!r}")
    floats = {name: parse_float(name, require(entry, name), "float") for name in NORMALIZED_FLOATS}
    venues: dict[str, VenueQuote] = {}
    listed = require(entry, "exchanges", allow_empty=True)
    for venue in filter(None, listed.split(",")):
        extras = {name: _optional_float(entry, f"{venue}_{name}") for name in VENUE_FIELDS}
        venues[venue] = VenueQuote(
            price=parse_float(f"{venue}_price", require(entry, f"{venue}_price"), "price"),
            age_ms=parse_int(f"{venue}_age_ms", entry.get(f"{venue}_age_ms", "0")),
            **extras,
        )
    excluded = dict(
        item.split(":", 1) for item in filter(None, entry.get("excluded", "").split(","))
    )
    return NormalizedSnapshot(
        symbol=symbol,
        ts_ms=parse_ms("timestamp", require(entry, "timestamp")),
        num_exchanges=parse_int("num_exchanges", require(entry, "num_exchanges")),
        venues=venues,
        best_bid=_optional_float(entry, "best_bid"),
        best_bid_exchange=entry.get("best_bid_exchange") or None,
        best_ask=_optional_float(entry, "best_ask"),
        best_ask_exchange=entry.get("best_ask_exchange") or None,
        best_bid_size=_optional_float(entry, "best_bid_size"),
        best_ask_size=_optional_float(entry, "best_ask_size"),
        excluded=excluded,
        basis=decode_basis(entry),
        dvol=_optional_float(entry, "dvol"),  # absent in entries of engines before it
        **floats,
    )


NORMALIZED: Final[Schema[NormalizedSnapshot]] = Schema(encode_normalized, decode_normalized)


# ------------------------------------------------------------------------ exchange.features

SEED_FEATURES: Final = (
    "avg_price",
    "price_divergence",
    "funding_delta",  # copied from exchange.normalized: signed spread, percent per 8 h
    "price_momentum",
    "volatility_spread",
    "binance_bybit_ratio",
    "hour",
    "day_of_week",
    "all_exchanges_active",
    "num_exchanges",
)
CROSS_FEATURES: Final = (
    "price_dispersion",
    "max_price_spread_bps",
    "price_entropy",
    "best_arb_opportunity_bps",
    "arb_opportunity_count",
    "avg_arb_profit_bps",
    "vw_price_dispersion",
    "volume_concentration",
    "price_sync_correlation",
    "lead_lag_coefficient",
    "depth_imbalance_ratio",
    "consolidated_spread_bps",
    "cross_exchange_vol_ratio",
    "vol_dispersion",
)
# avg_funding_rate: copied from exchange.normalized, percent per 8 h
CONTEXT_FEATURES: Final = ("exchange_divergence", "volatility_factor", "avg_funding_rate")
BOOK_FEATURES: Final = (  # from the venues' L2 books (issue 13); 0.0 without books
    "book_imbalance_10bps",  # (bid - ask) / (bid + ask) of the summed USD depth within 10 bps
    "consolidated_depth_usd_10bps",  # bid + ask USD depth within 10 bps, all venues
    "microprice_offset_bps",  # NBBO microprice - NBBO mid, bps of the mid
    "nbbo_crossed_ms",  # how long the NBBO has been crossed/locked across venues, ms
)
FEATURE_NAMES: Final = SEED_FEATURES + CROSS_FEATURES + CONTEXT_FEATURES + BOOK_FEATURES


def encode_features(vector: FeatureVector) -> Fields:
    out: Fields = {"symbol": vector.symbol, "timestamp": ms_to_seconds_str(vector.ts_ms)}
    for name in FEATURE_NAMES:
        out[name] = encode_derived(vector.values[name])
    return out


def decode_features(entry: dict[str, str]) -> FeatureVector:
    values = {name: parse_float(name, require(entry, name), "float") for name in FEATURE_NAMES}
    return FeatureVector(
        symbol=require(entry, "symbol"),
        ts_ms=parse_ms("timestamp", require(entry, "timestamp")),
        values=values,
    )


FEATURES: Final[Schema[FeatureVector]] = Schema(encode_features, decode_features)


# ------------------------------------------------------------------------ exitbrain.status

STATUS_FLOATS: Final = (
    "data_age_seconds",
    "volatility_factor",
    "exchange_divergence",
    "funding_delta",  # as read from exchange.normalized: signed spread, percent per 8 h
    "atr_multiplier",
    "tp_multiplier",
    "sl_multiplier",
)


def encode_status(status: ExitStatus) -> Fields:
    out: Fields = {
        "timestamp": iso_utc(status.ts_ms),
        "symbol": status.symbol,
        "cross_exchange_active": "true" if status.cross_exchange_active else "false",
    }
    for name in STATUS_FLOATS:
        out[name] = encode_derived(getattr(status, name))
    out["use_trailing"] = "true" if status.use_trailing else "false"
    out["reasoning"] = status.reasoning
    out["total_reads"] = str(status.total_reads)
    out["fail_count"] = str(status.fail_count)
    return out


def decode_status(entry: dict[str, str]) -> ExitStatus:
    floats = {name: parse_float(name, require(entry, name), "float") for name in STATUS_FLOATS}
    return ExitStatus(
        symbol=require(entry, "symbol"),
        ts_ms=parse_iso("timestamp", require(entry, "timestamp")),
        cross_exchange_active=parse_bool(
            "cross_exchange_active", require(entry, "cross_exchange_active")
        ),
        use_trailing=parse_bool("use_trailing", require(entry, "use_trailing")),
        reasoning=require(entry, "reasoning", allow_empty=True),
        total_reads=parse_int("total_reads", require(entry, "total_reads")),
        fail_count=parse_int("fail_count", require(entry, "fail_count")),
        **floats,
    )


STATUS: Final[Schema[ExitStatus]] = Schema(encode_status, decode_status)


# ------------------------------------------------------------------------ exitbrain.alerts


def encode_alert(alert: ExitAlert) -> Fields:
    return {
        "timestamp": iso_utc(alert.ts_ms),
        "symbol": alert.symbol,
        "type": alert.type,
        "reason": alert.reason,
        "fail_count": str(alert.fail_count),
    }


def decode_alert(entry: dict[str, str]) -> ExitAlert:
    kind = require(entry, "type")
    if kind not in ALERT_TYPES:
        raise SchemaError(f"field 'type': unknown alert type {kind!r}")
    return ExitAlert(
        symbol=require(entry, "symbol"),
        ts_ms=parse_iso("timestamp", require(entry, "timestamp")),
        type=kind,
        reason=require(entry, "reason", allow_empty=True),
        fail_count=parse_int("fail_count", require(entry, "fail_count")),
    )


ALERTS: Final[Schema[ExitAlert]] = Schema(encode_alert, decode_alert)


# ------------------------------------------------------------------------ exchange.listings

LISTING_FIELDS: Final = (
    FieldSpec("timestamp", "ts_ms", "ms"),  # when the collector first saw the instrument
    FieldSpec("exchange", "exchange", "venue"),
    FieldSpec("venue_symbol", "venue_symbol", "str"),
    FieldSpec("symbol", "symbol", "symbol"),  # canonical name
    FieldSpec("group", "group", "symbol"),  # the followed symbol it belongs to
    FieldSpec("base", "base", "asset"),
    FieldSpec("quote", "quote", "asset"),
    FieldSpec("market", "market", "str"),  # spot, perpetual, future, option
    FieldSpec("status", "status", "str"),  # trading, pending, halted
    FieldSpec("tick_size", "tick_size", "pos", optional=True),
    FieldSpec("lot_size", "lot_size", "pos", optional=True),
)
LISTING_MARKETS: Final = frozenset({"spot", "perpetual", "future", "option"})
LISTING_STATUSES: Final = frozenset({"trading", "pending", "halted", "delisted"})


def encode_listing(listing: NewListing) -> Fields:
    return encode_fields(listing, LISTING_FIELDS)


def decode_listing(entry: dict[str, str]) -> NewListing:
    listing = NewListing(**decode_fields(entry, LISTING_FIELDS))
    if listing.market not in LISTING_MARKETS:
        raise SchemaError(f"field 'market': unknown market type {listing.market!r}")
    if listing.status not in LISTING_STATUSES:
        raise SchemaError(f"field 'status': unknown status {listing.status!r}")
    return listing


LISTINGS: Final[Schema[NewListing]] = Schema(encode_listing, decode_listing)
