"""The text form of the answers to questions in words (`answers.py`). Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from microservices.ai_engine.market.arbitrage import Opportunity
from microservices.ai_engine.market.best_price import RankedVenue
from microservices.ai_engine.market.discovery import Depth, Trend
from microservices.ai_engine.market.listings import ListingEvent
from microservices.ai_engine.market.view import VenueMarket


def price(value: float | None) -> str:
    """A USD price with the decimals its size needs."""
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.2f}"
    return f"{value:.4f}" if abs(value) >= 1 else f"{value:.6g}"


def usd(value: float | None) -> str:
    """$1.23M, $45.6k, $789."""
    if value is None:
        return "-"
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"${value / size:.2f}{unit}"
    return f"${value:.0f}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}%"


def _excluded(excluded: Mapping[str, str]) -> str:
    if not excluded:
        return ""
    return " (not ranked: " + ", ".join(f"{v} {why}" for v, why in excluded.items()) + ")"


def ranking(symbol: str, side: str, ranked: Sequence[RankedVenue], excluded: Mapping[str, str],
            notional: float | None) -> str:  # fmt: skip
    """`BTCUSDT buy: binance 100.0000, bybit 100.5000 (+50.0 bps)`."""
    what = f"{side} {usd(notional)}" if notional else side
    if not ranked:
        return f"{symbol} {what}: no venue with a fresh quote{_excluded(excluded)}"
    parts = [f"{ranked[0].venue} {price(ranked[0].price)}"]
    parts += [f"{r.venue} {price(r.price)} (+{r.spread_bps:.1f} bps)" for r in ranked[1:]]
    return f"{symbol} {what}: " + ", ".join(parts) + _excluded(excluded)


def compare(symbol: str, rows: Sequence[VenueMarket]) -> list[str]:
    """One line per venue: status, price, bid/ask, age, 24 h change and USD volume."""
    out = [f"{symbol}:"]
    for row in rows:
        if row.status == "absent":
            out.append(f"  {row.venue:<16} not listed or no data")
            continue
        age = "-" if row.age_s is None else f"{row.age_s:.1f}s"
        out.append(
            f"  {row.venue:<16} {row.status:<7} {price(row.price):>14}  bid {price(row.bid)}"
            f"  ask {price(row.ask)}  age {age}  24h {pct(row.price_change_24h)}"
            f"  vol {usd(row.volume_usd_24h)}"
        )
    return out


def arbitrage(symbols: Sequence[str], found: Sequence[Opportunity]) -> list[str]:
    out = [
        f"{o.symbol}: buy on {o.buy_venue} at {price(o.buy_price)}, sell on {o.sell_venue} at "
        f"{price(o.sell_price)}: {o.profit_bps:.1f} bps before fees, for "
        f"{'at least ' if o.at_least else ''}{o.persisted_ms / 1000:.1f}s"
        for o in found
    ]
    seen = {o.symbol for o in found}
    out += [f"{s}: no cross-venue opportunity now" for s in symbols if s not in seen]
    return out or ["no cross-venue opportunity now"]


def depth(symbol: str, ranked: Sequence[Depth]) -> str:
    if not ranked:
        return f"{symbol}: no fresh order book depth"
    parts = [f"{d.venue} {usd(d.total_10bps)}" for d in ranked]
    return f"{symbol} depth within 10 bps (bid + ask): " + ", ".join(parts)


def trends(title: str, found: Sequence[Trend]) -> list[str]:
    if not found:
        return [f"{title}: none"]
    out = [f"{title}:"]
    for t in found:
        why = {"not_listed": "  (not listed there)", "not_in_top": "  (not in its top)"}
        out.append(f"  {t.asset:<10} {pct(t.price_change_24h):>9}  vol {usd(t.volume_usd_24h)}"
                   f"  {t.venue} {t.venue_symbol}{why.get(t.why or '', '')}")  # fmt: skip
    return out


def listings(since: str, events: Sequence[ListingEvent]) -> list[str]:
    if not events:
        return [f"no new listings, delistings or renames since {since}"]
    verb = {"NEW_LISTING": "listed", "DELISTING": "delisted", "RENAMED": "renamed to"}
    return [f"{e.timestamp} {e.venue} {verb.get(e.type, e.type)} {e.venue_symbol} ({e.market})"
            for e in events]  # fmt: skip
