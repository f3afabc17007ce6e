"""Raw-record builders for the aggregator tests (times relative to T0, in ms)."""

from __future__ import annotations

from microservices.common.book_schema import BookTop
from microservices.common.orderbook.depth import depth_within_bps
from microservices.common.records import Funding, Kline, Market, OpenInterest, Ticker, Trade
from microservices.data_collector import exchanges

T0 = 1_700_000_000_000
SYMBOL = "BTCUSDT"


def _market(exchange: str) -> Market:
    spec = exchanges.venue_specs().get(exchange)  # test-only names ("okx") trade spot
    return "spot" if spec is None else spec.market


def ticker(
    exchange: str,
    bid: float,
    ask: float,
    at: int = 0,
    *,
    recv: int | None = None,
    bid_size: float = 1.0,
    ask_size: float = 1.0,
    symbol: str = SYMBOL,
) -> Ticker:
    return Ticker(
        exchange=exchange,
        market=_market(exchange),
        symbol=symbol,
        venue_symbol=symbol,
        group=symbol,
        quote="USDT",
        ts_ms=T0 + at,
        recv_ms=T0 + (at if recv is None else recv),
        bid=bid,
        bid_size=bid_size,
        ask=ask,
        ask_size=ask_size,
    )


def quote(exchange: str, mid: float, at: int = 0, *, symbol: str = SYMBOL) -> Ticker:
    """A ticker with a 1.0-wide spread around `mid`."""
    return ticker(exchange, mid - 0.5, mid + 0.5, at, symbol=symbol)


def trade(
    exchange: str,
    price: float,
    at: int = 0,
    *,
    size: float = 1.0,
    trade_id: str | None = None,
    recv: int | None = None,
) -> Trade:
    return Trade(
        exchange=exchange,
        market=_market(exchange),
        symbol=SYMBOL,
        venue_symbol=SYMBOL,
        group=SYMBOL,
        quote="USDT",
        ts_ms=T0 + at,
        recv_ms=T0 + (at if recv is None else recv),
        price=price,
        size=size,
        side="buy",
        trade_id=trade_id if trade_id is not None else f"{exchange}-{at}-{price}",
    )


def kline(exchange: str, close: float, at: int = 0) -> Kline:
    return Kline(
        exchange=exchange,
        market=_market(exchange),
        symbol=SYMBOL,
        venue_symbol=SYMBOL,
        group=SYMBOL,
        quote="USDT",
        ts_ms=T0 + at,
        recv_ms=T0 + at,
        open_time_ms=T0 + at - at % 60_000,
        interval="1m",
        open=close,
        high=close,
        low=close,
        close=close,
        volume=1.0,
        closed=False,
    )


def funding(exchange: str, rate: float, interval_h: float, at: int = 0) -> Funding:
    return Funding(
        exchange=exchange,
        market="perp",
        symbol=SYMBOL,
        venue_symbol=SYMBOL,
        group=SYMBOL,
        quote="USDT",
        ts_ms=T0 + at,
        recv_ms=T0 + at,
        funding_rate=rate,
        funding_interval_h=interval_h,
    )


def open_interest(exchange: str, oi: float, usd: float | None, at: int = 0) -> OpenInterest:
    return OpenInterest(
        exchange=exchange,
        market="perp",
        symbol=SYMBOL,
        venue_symbol=SYMBOL,
        group=SYMBOL,
        quote="USDT",
        ts_ms=T0 + at,
        recv_ms=T0 + at,
        open_interest=oi,
        open_interest_usd=usd,
    )


def book_top(
    exchange: str,
    bids: list[tuple[float, float]],
    asks: list[tuple[float, float]],
    at: int = 0,
    *,
    recv: int | None = None,
    symbol: str = SYMBOL,
    group: str = SYMBOL,
    quote: str = "USDT",
) -> BookTop:
    """An exchange.orderbook entry of these levels (best first); depth figures computed over
    them with the collector's function, in quote units."""
    mid = (bids[0][0] + asks[0][0]) / 2.0
    return BookTop(
        exchange=exchange, market=_market(exchange), symbol=symbol, venue_symbol=symbol,
        group=group, quote=quote, ts_ms=T0 + at, recv_ms=T0 + (at if recv is None else recv),
        sequence=None, bids=bids, asks=asks, bid_levels=len(bids), ask_levels=len(asks),
        bid_depth_10bps=depth_within_bps(bids, mid, 10), ask_depth_10bps=depth_within_bps(asks, mid, 10),
        bid_depth_50bps=depth_within_bps(bids, mid, 50), ask_depth_50bps=depth_within_bps(asks, mid, 50),
    )  # fmt: skip
