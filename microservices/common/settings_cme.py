"""Settings of the CME settlement poller (issue 14, `exchanges/cme/`), declared like
`settings_fields` (a `# ---` group line, then fields); `SettingsFields` inherits them.
Bad values fail at start (the validators below)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlparse

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode

from microservices.data_collector.exchanges.cme.contracts import PRODUCTS
from microservices.data_collector.exchanges.cme.web import DEFAULT_PRODUCT_IDS

Products = Annotated[list[str], NoDecode]  # "BTC,MBT,ETH,MET"
Days = Annotated[list[date], NoDecode]  # "2026-04-03,2026-12-24"
Pairs = Annotated[dict[str, str], NoDecode]  # "BTC:BTCUSDT,ETH:ETHUSDT"
Ids = Annotated[dict[str, int], NoDecode]  # "BTC:8478,MBT:9024"


def _pairs(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    out: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        key, sep, val = item.partition(":")
        if not sep or not key.strip() or not val.strip():
            raise ValueError(f"expected KEY:VALUE, got {item!r}")
        out[key.strip().upper()] = val.strip().upper()
    return out


class CmeSettingsFields(BaseSettings):
    """The CME declarations."""

    # --- CME settlements (delayed)
    cme_enabled: bool = Field(
        False, description="poll CME settlements (delayed, key-less) into exchange.raw"
    )
    cme_source: Literal["web", "file"] = Field(
        "web", description="web: CME's product-page JSON (UNVERIFIED); file: CME_FILE"
    )
    cme_web_url: str = Field(
        "https://www.cmegroup.com",
        description="base URL of CME's settlement JSON (or the CME simulator's)",
    )
    cme_file: str = Field("", description="settlement CSV read when CME_SOURCE=file")
    cme_products: Products = Field(
        ["BTC", "MBT", "ETH", "MET"], description="CME products polled (BTC, MBT, ETH, MET)"
    )
    cme_product_ids: Ids = Field(
        dict(DEFAULT_PRODUCT_IDS),
        description="CME product ids of the settlements JSON (only BTC:8478 seen in public use)",
    )
    cme_poll_interval_s: float = Field(
        21_600.0, ge=60.0, description="seconds between polls (settlements change once a day)"
    )
    cme_lookback_days: int = Field(
        5, ge=1, le=30, description="trade dates asked on each poll, newest first"
    )
    cme_roll_days: int = Field(
        5, ge=0, le=60, description="front month rolls this many days before its last trade"
    )
    cme_holidays: Days = Field([], description="extra CME closed days, e.g. 2026-11-26")
    cme_groups: Pairs = Field(
        {"BTC": "BTCUSDT", "ETH": "ETHUSDT"}, description="base asset -> group compared (basis)"
    )
    cme_reference_venues: Products = Field(
        ["binance", "bybit_spot"],
        description="venues whose REST 1m klines give the basis reference (median) when "
        "stored normalized history (DATABASE_URL) has none; empty: REST is not asked",
    )

    @field_validator("cme_products", "cme_holidays", "cme_reference_venues", mode="before")
    @classmethod
    def _cme_csv(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("cme_groups", "cme_product_ids", mode="before")
    @classmethod
    def _cme_pairs(cls, value: Any) -> Any:
        return _pairs(value)

    @field_validator("cme_products")
    @classmethod
    def _cme_known_products(cls, value: list[str]) -> list[str]:
        upper = [v.upper() for v in value]
        unknown = sorted(set(upper) - set(PRODUCTS))
        if unknown or not upper:
            raise ValueError(f"unknown CME product(s) {unknown}; known: {sorted(PRODUCTS)}")
        return upper

    @field_validator("cme_product_ids")
    @classmethod
    def _cme_known_ids(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(PRODUCTS))
        if unknown or any(v <= 0 for v in value.values()):
            raise ValueError(f"product ids must be > 0 for known products; unknown: {unknown}")
        return {**DEFAULT_PRODUCT_IDS, **value}

    @field_validator("cme_web_url")
    @classmethod
    def _cme_url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("cme_reference_venues")
    @classmethod
    def _cme_reference_venues(cls, value: list[str]) -> list[str]:
        from microservices.data_collector import exchanges

        lower = [v.lower() for v in value]
        unknown = sorted(set(lower) - set(exchanges.venue_ids()))
        if unknown:
            raise ValueError(f"unknown venue(s) {unknown}")
        return lower

    @model_validator(mode="after")
    def _cme_file_given(self) -> Self:
        if self.cme_source == "file" and not self.cme_file:
            raise ValueError("CME_SOURCE=file needs CME_FILE")
        return self
