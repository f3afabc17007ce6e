"""The alert rules of seed 002's "real-time alerts" beside LARGE_TRADE.

- `LiquidationClusters`: LIQUIDATION_CLUSTER when `cluster_count` liquidations of one
  followed symbol (any venue), each worth at least `cluster_min_usd`, fall within
  `cluster_window_ms` of event time; the cluster is then reset (the next alert needs as many
  new liquidations) and its symbol rests for `cooldown_ms`.
- `FundingSpikes`: FUNDING_SPIKE when a venue's funding, as percent per 8 h (rate x 800 /
  interval hours, as the aggregator computes it), reaches `funding_abs_pct` in either sign, or
  moves by at least `funding_jump_pct` from that venue's previous different value.
- `OiChanges`: OI_CHANGE when a venue's open interest (contracts) differs from its oldest
  value within `oi_window_ms` by at least `oi_change_pct` percent.

Funding and open-interest alerts rest `cooldown_ms` per (type, venue, instrument). Times are
the records' event times, so a replay raises the same alerts. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from microservices.ai_engine.large_trades.params import AlertParams
from microservices.common.large_trade_schema import LargeTrade
from microservices.common.market_alerts import MarketAlert
from microservices.common.records import Funding, OpenInterest

SOURCE = "large_trades"


@dataclass(slots=True)
class Cooldown:
    """When each key last alerted; `ready` says whether it may alert again at `ts_ms`."""

    period_ms: int
    last: dict[tuple[str, ...], int] = field(default_factory=dict)

    def ready(self, key: tuple[str, ...], ts_ms: int) -> bool:
        previous = self.last.get(key)
        return previous is None or ts_ms - previous >= self.period_ms

    def mark(self, key: tuple[str, ...], ts_ms: int) -> None:
        self.last[key] = ts_ms


class LiquidationClusters:
    def __init__(self, params: AlertParams, cooldown: Cooldown) -> None:
        self.params = params
        self.cooldown = cooldown
        self.recent: dict[str, deque[LargeTrade]] = {}  # group -> liquidations in the window

    def update(self, liq: LargeTrade) -> MarketAlert | None:
        p = self.params
        if not liq.is_liquidation or liq.value_usd < p.cluster_min_usd:
            return None
        window = self.recent.setdefault(liq.group, deque())
        if any(item.row_id == liq.row_id for item in window):
            return None  # a re-delivered entry
        window.append(liq)
        newest = max(item.ts_ms for item in window)
        while window and window[0].ts_ms < newest - p.cluster_window_ms:
            window.popleft()
        key = ("LIQUIDATION_CLUSTER", liq.group)
        if len(window) < p.cluster_count or not self.cooldown.ready(key, liq.ts_ms):
            return None
        members = list(window)
        window.clear()
        self.cooldown.mark(key, liq.ts_ms)
        return _cluster_alert(liq.group, members, p.cluster_window_ms)


def _cluster_alert(group: str, members: list[LargeTrade], window_ms: int) -> MarketAlert:
    total = sum(m.value_usd for m in members)
    longs = sum(1 for m in members if m.side == "sell")  # a forced sell closes a long
    venues = sorted({m.exchange for m in members})
    span_s = (max(m.ts_ms for m in members) - min(m.ts_ms for m in members)) / 1000
    return MarketAlert(
        ts_ms=max(m.ts_ms for m in members), source=SOURCE, type="LIQUIDATION_CLUSTER",
        severity="warning", symbol=group, venue=venues[0] if len(venues) == 1 else "",
        reason=f"{len(members)} liquidations of {group} worth ${total:,.0f} within "
        f"{span_s:g} s ({longs} long, {len(members) - longs} short)",
        data={"count": len(members), "total_usd": round(total, 2), "span_s": span_s,
              "window_s": window_ms / 1000, "longs_liquidated": longs,
              "shorts_liquidated": len(members) - longs, "venues": venues,
              "trade_ids": [m.trade_id for m in members]},
    )  # fmt: skip


def funding_8h_pct(rec: Funding) -> float:
    """Funding as percent per 8 h: 0.0001 per 8 h -> 0.01; 0.00005 per 4 h -> 0.01."""
    return rec.funding_rate * 800.0 / rec.funding_interval_h


class FundingSpikes:
    def __init__(self, params: AlertParams, cooldown: Cooldown) -> None:
        self.params = params
        self.cooldown = cooldown
        # (venue, symbol) -> (event time, percent per 8 h) of the last value
        self.previous: dict[tuple[str, str], tuple[int, float]] = {}

    def update(self, rec: Funding) -> MarketAlert | None:
        p = self.params
        now = funding_8h_pct(rec)
        last = self.previous.get((rec.exchange, rec.symbol))
        if last is not None and (rec.ts_ms < last[0] or now == last[1]):
            return None  # older than the last value (a replay), or unchanged
        before = None if last is None else last[1]
        self.previous[rec.exchange, rec.symbol] = (rec.ts_ms, now)
        jump = None if before is None else now - before
        level = abs(now) >= p.funding_abs_pct
        jumped = jump is not None and abs(jump) >= p.funding_jump_pct
        key = ("FUNDING_SPIKE", rec.exchange, rec.symbol)
        if not (level or jumped) or not self.cooldown.ready(key, rec.ts_ms):
            return None
        self.cooldown.mark(key, rec.ts_ms)
        why = f"at {now:+.4f} %/8h" + ("" if jump is None else f" (moved {jump:+.4f})")
        return MarketAlert(
            ts_ms=rec.ts_ms, source=SOURCE, type="FUNDING_SPIKE",
            severity="warning" if level else "info", symbol=rec.symbol, venue=rec.exchange,
            reason=f"{rec.exchange} {rec.venue_symbol} funding {why}",
            data={"venue_symbol": rec.venue_symbol, "group": rec.group,
                  "funding_rate": rec.funding_rate, "funding_interval_h": rec.funding_interval_h,
                  "funding_8h_pct": now, "previous_8h_pct": before,
                  "trigger": "level" if level else "jump",
                  "abs_threshold_pct": p.funding_abs_pct, "jump_threshold_pct": p.funding_jump_pct},
        )  # fmt: skip


class OiChanges:
    def __init__(self, params: AlertParams, cooldown: Cooldown) -> None:
        self.params = params
        self.cooldown = cooldown
        self.history: dict[tuple[str, str], deque[tuple[int, float]]] = {}

    def update(self, rec: OpenInterest) -> MarketAlert | None:
        p = self.params
        samples = self.history.setdefault((rec.exchange, rec.symbol), deque())
        if samples and rec.ts_ms < samples[-1][0]:
            return None  # older than what we have: ignored
        samples.append((rec.ts_ms, rec.open_interest))
        while samples[0][0] < rec.ts_ms - p.oi_window_ms:
            samples.popleft()
        start_ms, start = samples[0]
        if start <= 0:
            return None
        change_pct = (rec.open_interest - start) / start * 100.0
        key = ("OI_CHANGE", rec.exchange, rec.symbol)
        if abs(change_pct) < p.oi_change_pct or not self.cooldown.ready(key, rec.ts_ms):
            return None
        self.cooldown.mark(key, rec.ts_ms)
        span_s = (rec.ts_ms - start_ms) / 1000
        return MarketAlert(
            ts_ms=rec.ts_ms, source=SOURCE, type="OI_CHANGE",
            severity="warning" if abs(change_pct) >= 2 * p.oi_change_pct else "info",
            symbol=rec.symbol, venue=rec.exchange,
            reason=f"{rec.exchange} {rec.venue_symbol} open interest {change_pct:+.2f} % "
            f"in {span_s:g} s ({start:g} -> {rec.open_interest:g})",
            data={"venue_symbol": rec.venue_symbol, "group": rec.group,
                  "open_interest": rec.open_interest, "open_interest_start": start,
                  "open_interest_usd": rec.open_interest_usd, "change_pct": change_pct,
                  "span_s": span_s, "window_s": p.oi_window_ms / 1000,
                  "threshold_pct": p.oi_change_pct},
        )  # fmt: skip
