"""Settings of the market layer (issue 15: 24 h statistics, /market fallback order,
discovery), declared like `settings_fields` (a `# ---` group line, then fields);
`SettingsFields` inherits them, so they are ordinary settings."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings


class MarketSettingsFields(BaseSettings):
    """The market-layer declarations."""

    # --- market layer
    market_stats_refresh_s: float = Field(
        300.0, gt=0,
        description="period of the venues' 24 h tickers polls (the stats24h hash behind "
        "/api/v1/market, trending and the other market questions)",
    )  # fmt: skip
    market_venue_order: str = Field(
        "",
        description="venues /api/v1/market asks first, comma-separated (e.g. bybit,binance); "
        "the other followed venues follow in VENUES order; empty = VENUES order",
    )
    market_trending_min_volume_usd: float = Field(
        1_000_000.0, ge=0,
        description="trending questions rank only instruments with more 24 h USD volume",
    )  # fmt: skip
    market_trending_top_n: int = Field(
        10, gt=0, le=500, description="how many instruments 'trending on V' lists"
    )
    api_url: str = Field(
        "",
        description="the engine API `cross-exchange ask` calls; empty = http://API_HOST:API_PORT",
    )

    @field_validator("market_venue_order")
    @classmethod
    def _venue_list(cls, value: str) -> str:
        names = [item.strip().lower() for item in value.split(",") if item.strip()]
        return ",".join(dict.fromkeys(names))

    def market_order(self, venues: list[str]) -> list[str]:
        """`venues` (VENUES) with MARKET_VENUE_ORDER's named ones first, in its order; names
        not in `venues` are ignored."""
        first = [v for v in self.market_venue_order.split(",") if v in venues]
        return first + [v for v in venues if v not in first]
