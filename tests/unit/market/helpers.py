"""Builders of normalized entries for the market tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis.asyncio as aredis

from microservices.common.records import NormalizedSnapshot, VenueQuote
from microservices.common.settings import Settings

Quote = tuple[float, float | None, float | None, int]  # price, bid, ask, age_ms


def snap(symbol: str, ts_ms: int, venues: Mapping[str, Quote], **extra: Any) -> NormalizedSnapshot:
    """An entry with these venues; best bid / ask taken across them like the aggregator."""
    quotes = {
        v: VenueQuote(price=p, bid=b, ask=a, age_ms=age) for v, (p, b, a, age) in venues.items()
    }
    bids = [(q.bid, v) for v, q in quotes.items() if q.bid is not None]
    asks = [(q.ask, v) for v, q in quotes.items() if q.ask is not None]
    best_bid = max(bids, default=(None, None), key=lambda x: x[0] or 0.0)
    best_ask = min(asks, default=(None, None), key=lambda x: x[0] or 0.0)
    prices = [q.price for q in quotes.values()] or [1.0]
    return NormalizedSnapshot(
        symbol=symbol, ts_ms=ts_ms, avg_price=sum(prices) / len(prices),
        median_price=prices[0], price_divergence=0.0, exchange_divergence=0.0,
        funding_delta=0.0, avg_funding_rate=0.0, volatility_factor=1.0,
        num_exchanges=len(quotes), venues=quotes, best_bid=best_bid[0],
        best_bid_exchange=best_bid[1], best_ask=best_ask[0], best_ask_exchange=best_ask[1],
        **extra,
    )  # fmt: skip


async def publish(redis: aredis.Redis, settings: Settings, *snaps: NormalizedSnapshot) -> None:
    """XADD the entries in order."""
    stream = settings.streams().normalized
    for entry in snaps:
        await redis.xadd(stream.name, stream.schema.encode(entry))  # type: ignore[arg-type]
