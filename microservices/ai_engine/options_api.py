"""`GET /api/v1/options/{currency}`: the latest option-chain summary of a currency on every
venue that has one (Deribit BTC, ETH), from the collector's `collector.options` hash
(`data_collector/options_poller.py`; each value is an `options_summary` record's stream
fields as JSON, expiring after three polls).

404 for a currency no venue summarises; 503 while no summary is there yet (the collector
polls OPTIONS_POLL_S after start, only with deribit in VENUES) or Redis is down. A value that
does not decode is left out and logged.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Final

import orjson
from fastapi import FastAPI, HTTPException, Path
from pydantic import BaseModel, Field

from microservices.ai_engine.market.api import redis_call
from microservices.common.clock import iso_utc, now_ms
from microservices.common.errors import SchemaError
from microservices.common.records import OptionsSummary
from microservices.common.schemas import RAW
from microservices.common.settings import Settings
from microservices.common.streams import collector_key
from microservices.data_collector.exchanges.deribit.options import CURRENCIES

logger = logging.getLogger(__name__)

OPTION_CURRENCIES: Final = frozenset(CURRENCIES)


class VenueOptions(BaseModel):
    venue: str
    timestamp: str = Field(description="ISO time of the newest row of the chain")
    age_s: float = Field(description="seconds since `timestamp`")
    instruments: int = Field(description="live option instruments summed")
    open_interest: float = Field(description="contracts (1 contract = 1 coin)")
    open_interest_usd: float = Field(description="open_interest x index_price")
    volume_24h: float = Field(description="contracts traded over 24 h")
    volume_24h_usd: float
    put_call_oi_ratio: float | None = Field(
        description="put / call open interest; null: no call OI"
    )
    put_call_volume_ratio: float | None = Field(description="put / call volume; null: none")
    index_price: float = Field(description="the currency's USD index")


class OptionsResponse(BaseModel):
    currency: str
    summaries: list[VenueOptions] = Field(description="one per venue, by venue")


def venue_options(record: OptionsSummary, now: int) -> VenueOptions:
    return VenueOptions(
        venue=record.exchange, timestamp=iso_utc(record.ts_ms),
        age_s=max(now - record.ts_ms, 0) / 1000, instruments=record.instruments,
        open_interest=record.open_interest, open_interest_usd=record.open_interest_usd,
        volume_24h=record.volume_24h, volume_24h_usd=record.volume_24h_usd,
        put_call_oi_ratio=record.put_call_oi_ratio,
        put_call_volume_ratio=record.put_call_volume_ratio, index_price=record.index_price,
    )  # fmt: skip


def decode_summaries(fields: dict[Any, Any], currency: str) -> list[OptionsSummary]:
    """The hash values of `currency` (fields `<venue>:<CURRENCY>`), by venue; bad ones left
    out (logged)."""
    out: list[OptionsSummary] = []
    for key, value in sorted(fields.items()):
        name = key.decode() if isinstance(key, bytes) else str(key)
        if name.rpartition(":")[2] != currency:
            continue
        try:
            record = RAW.decode(orjson.loads(value))
        except (orjson.JSONDecodeError, SchemaError, TypeError) as exc:
            logger.warning("options.bad_entry", extra={"field": name, "error": str(exc)[:200]})
            continue
        if isinstance(record, OptionsSummary):
            out.append(record)
    return out


def add_options_route(app: FastAPI, redis: Any, settings: Settings) -> None:
    key = collector_key(settings.stream_prefix, "options")

    @app.get(
        "/api/v1/options/{currency}",
        summary="Latest option-chain summary of a currency",
        responses={
            404: {"description": "no venue summarises this currency"},
            503: {"description": "no summary yet (the collector polls every OPTIONS_POLL_S)"},
        },
    )
    async def options(
        currency: Annotated[str, Path(pattern=r"^[A-Za-z0-9]{2,10}$", examples=["BTC"])],
    ) -> OptionsResponse:
        upper = currency.upper()
        if upper not in OPTION_CURRENCIES:
            known = ", ".join(sorted(OPTION_CURRENCIES))
            raise HTTPException(404, f"no options summary of {currency!r}; currencies: {known}")
        fields = await redis_call(redis.hgetall(key))
        found = decode_summaries(fields or {}, upper)
        if not found:
            raise HTTPException(
                503, f"no options summary of {upper} yet: the collector polls the option "
                "chains every OPTIONS_POLL_S seconds when deribit is in VENUES",
            )  # fmt: skip
        now = now_ms()
        return OptionsResponse(currency=upper, summaries=[venue_options(r, now) for r in found])
