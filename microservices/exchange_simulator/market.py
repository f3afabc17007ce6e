"""Synthetic correlated markets: one true price per symbol; each venue sees it with a basis.

Pure: no I/O, no asyncio, never reads the clock. Deterministic given the MarketConfig (seed),
`start_ms` and the `now_ms` values passed to `step()`. Venue dialects (each exchange package's
`simulator/`) turn the events into frames; `bars.py` keeps the 1m klines built from the trades.
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Sequence
from typing import Final

from microservices.exchange_simulator.bars import Bar, BarSeries, backfill, scale
from microservices.exchange_simulator.book import VenueBook
from microservices.exchange_simulator.config import MarketConfig
from microservices.exchange_simulator.depth import DepthLadder, step_ladders
from microservices.exchange_simulator.events import (
    FUNDING_INTERVAL_MS,
    BarUpdate,
    DepthDiff,
    Event,
    Instrument,
    Liquidation,
    Mark,
    Quote,
    Trade,
    make_instrument,
    next_funding_ms,
    unit,
)
from microservices.exchange_simulator.venue_defaults import market_venues

__all__ = [
    "FUNDING_INTERVAL_MS",
    "BarUpdate",
    "DepthDiff",
    "Event",
    "Liquidation",
    "Mark",
    "MarketModel",
    "Quote",
    "Trade",
    "VenueBook",
    "next_funding_ms",
]

SECONDS_PER_YEAR: Final = 365 * 86_400
OI_NOTIONAL: Final = {"BTCUSDT": 8e9, "ETHUSDT": 4e9, "SOLUSDT": 1.5e9}


class MarketModel:
    """Advance with `step(now_ms, active)`; read books, klines, funding and open interest."""

    def __init__(
        self, cfg: MarketConfig, start_ms: int, venues: Sequence[str] | None = None
    ) -> None:
        venues = market_venues() if venues is None else venues
        self.cfg, self.start_ms, self.now_ms = cfg, start_ms, start_ms
        self.instruments = {s: make_instrument(s, dict(cfg.start_prices)) for s in cfg.symbols}
        self._rng = random.Random(f"{cfg.seed}:true")
        self._log_true = {s: math.log(i.start_price) for s, i in self.instruments.items()}
        self._sigma_s = cfg.volatility / math.sqrt(SECONDS_PER_YEAR)
        self._loading = math.sqrt(cfg.correlation)
        self._true_history = {s: self._backfill(i) for s, i in self.instruments.items()}
        self.books = {
            (v, s): self._new_book(v, i) for v in venues for s, i in self.instruments.items()
        }
        self.ladders: dict[tuple[str, str], DepthLadder] = {}  # L2 books somebody asked for

    # ------------------------------------------------------------------------ set-up

    def _backfill(self, inst: Instrument) -> list[Bar]:
        rng = random.Random(f"{self.cfg.seed}:{inst.symbol}:history")
        trades = max(self.cfg.rate * self.cfg.trade_share * 60, 1.0)
        return backfill(
            rng,
            self.start_ms,
            inst.start_price,
            self.cfg.history_minutes,
            self._sigma_s * math.sqrt(60),
            trades * 1500 / inst.start_price,
            trades,
        )

    def _new_book(self, venue: str, inst: Instrument) -> VenueBook:
        factor = 1 + self.cfg.basis_bps.get(venue, 0.0) / 1e4
        share = self.cfg.volume_shares.get(venue, 1.0)
        true_bars = self._true_history[inst.symbol]
        bars = BarSeries(
            self.start_ms,
            inst.start_price * factor,
            lambda: scale(true_bars, factor, share),
            self.cfg.history_minutes,
        )
        book = VenueBook(venue, inst, inst.start_price * factor, bars, self.cfg.seed)
        day = scale(true_bars[-1440:], factor, share)
        book.open_24h = day[0].open
        book.high_24h = max(b.high for b in day)
        book.low_24h = min(b.low for b in day)
        book.volume_24h = sum(b.volume for b in day)
        book.turnover_24h = sum(b.quote_volume for b in day)
        self._set_quote(book, book.mid, requote=True)
        return book

    # ------------------------------------------------------------------------ queries

    def true_price(self, symbol: str) -> float:
        return math.exp(self._log_true[symbol])

    def book(self, venue: str, symbol: str) -> VenueBook:
        return self.books[(venue, symbol)]

    def depth(self, venue: str, symbol: str) -> DepthLadder:
        """The L2 ladder of a pair, created on first use (then kept live while it is used)."""
        ladder = self.ladders.get((venue, symbol))
        if ladder is None:
            book = self.books[(venue, symbol)]
            ladder = DepthLadder(book, self.cfg.seed, self.now_ms)
            self.ladders[(venue, symbol)] = ladder
        ladder.last_used_ms = self.now_ms
        return ladder

    def funding_interval_h(self, venue: str, symbol: str) -> int:
        return self.cfg.funding_intervals_h.get(f"{venue}:{symbol}", 8)

    def funding_rate(self, venue: str, symbol: str) -> float:
        """The rate of one settlement: the venue's 8 h rate scaled to the symbol's interval."""
        per_8h = self.cfg.funding_rates.get(venue, 0.0001)
        return per_8h * self.funding_interval_h(venue, symbol) / 8

    def next_funding_ms(self, venue: str, symbol: str, now_ms: int) -> int:
        return next_funding_ms(now_ms, self.funding_interval_h(venue, symbol) * 3_600_000)

    def open_interest(self, venue: str, symbol: str, ts_ms: int) -> float:
        """Open interest in base units: a slow deterministic wave around a per-symbol level."""
        inst = self.instruments[symbol]
        notional = OI_NOTIONAL.get(symbol, 2e8 * (0.5 + unit(symbol)))
        level = notional * self.cfg.oi_shares.get(venue, 0.5) / inst.start_price
        phase = 2 * math.pi * unit(venue + symbol)
        wave = 0.04 * math.sin(2 * math.pi * ts_ms / 21_600_000 + phase)
        ripple = 0.01 * math.sin(2 * math.pi * ts_ms / 1_020_000 + 2 * phase)
        return round(level * (1 + wave + ripple), inst.qty_dp)

    def price_band_bps(self) -> float:
        """Upper bound of |mid_a / mid_b - 1| in bps between any two venues of one symbol."""
        basis = [self.cfg.basis_bps.get(v, 0.0) for v, _ in self.books]
        spread = max(basis) - min(basis) if basis else 0.0
        return spread + abs(self.cfg.divergence_bps) + 6 * self.cfg.noise_bps + 0.01

    def klines(
        self,
        venue: str,
        symbol: str,
        interval_ms: int,
        start_ms: int | None,
        end_ms: int | None,
        limit: int,
    ) -> list[Bar]:
        return self.books[(venue, symbol)].bars.query(interval_ms, start_ms, end_ms, limit)

    # ------------------------------------------------------------------------ stepping

    def step(self, now_ms: int, active: Collection[tuple[str, str]] = ()) -> list[Event]:
        """Move every price to `now_ms`; return the events of the `active` (venue, symbol)
        pairs in time order per pair. Inactive pairs only update prices, bars and ids."""
        if now_ms <= self.now_ms:
            return []
        prev, self.now_ms = self.now_ms, now_ms
        dt_s = (now_ms - prev) / 1000
        self._move_true(dt_s)
        events: list[Event] = []
        for key, book in self.books.items():
            mid = self._venue_mid(book, now_ms)
            if key in active:
                self._emit(book, prev, now_ms, mid, events)
            else:
                self._drift(book, now_ms, mid, dt_s)
        if self.ladders:
            events_due = self.cfg.rate * min(dt_s, 1.0)
            step_ladders(self.ladders, self.books, now_ms, events_due, active, events)
        return events

    def _move_true(self, dt_s: float) -> None:
        gauss, sigma, a = self._rng.gauss, self._sigma_s, self._loading
        common = gauss(0.0, 1.0)
        drift, scale_ = -0.5 * sigma * sigma * dt_s, sigma * math.sqrt(dt_s)
        b = math.sqrt(1 - a * a)
        for symbol in self._log_true:
            self._log_true[symbol] += drift + scale_ * (a * common + b * gauss(0.0, 1.0))

    def _venue_mid(self, book: VenueBook, now_ms: int) -> float:
        cfg = self.cfg
        limit = 3 * cfg.noise_bps
        noise = 0.8 * book.noise + 0.6 * cfg.noise_bps * book.rng.gauss(0.0, 1.0)
        book.noise = min(limit, max(-limit, noise))
        bps = cfg.basis_bps.get(book.venue, 0.0) + book.noise
        if book.venue == cfg.divergence_venue and cfg.divergence_bps:
            phase = 2 * math.pi * (now_ms - self.start_ms) / (cfg.divergence_period_s * 1000)
            bps += cfg.divergence_bps * (1 - math.cos(phase)) / 2
        return self.true_price(book.symbol) * (1 + bps / 1e4)

    def _emit(self, book: VenueBook, prev: int, now: int, mid: float, out: list[Event]) -> None:
        cfg, rng = self.cfg, book.rng
        wanted = cfg.rate * min((now - prev) / 1000, 1.0) + book.carry
        count = int(wanted)
        book.carry = wanted - count
        start_mid = book.mid
        for i in range(count):
            ts = prev + (i + 1) * (now - prev) // count
            self._roll(book, ts, out)
            point = start_mid + (mid - start_mid) * (i + 1) / count
            if rng.random() < cfg.trade_share:
                out.append(self._trade(book, ts, point))
            else:
                out.append(self._quote(book, ts, point))
        book.mid = mid
        self._roll(book, now, out)
        self._periodic(book, now, out)

    def _periodic(self, book: VenueBook, now: int, out: list[Event]) -> None:
        """Once a second: the open bar and (perps) mark/funding; sometimes a liquidation."""
        second = now // 1000
        if second > book.last_second:
            elapsed = second - book.last_second if book.last_second else 1
            book.last_second = second
            out.append(BarUpdate(book.venue, book.symbol, now, book.bars.current.freeze(), False))
            if book.venue in self.cfg.perp_venues:
                out.append(self._mark(book, now))
                chance = self.cfg.liquidations_per_min / 60 * min(elapsed, 60)
                if book.rng.random() < chance:
                    out.append(self._liquidation(book, now))

    def _drift(self, book: VenueBook, now: int, mid: float, dt_s: float) -> None:
        """An unwatched pair: trades happen (ids, bars, volume) but no events are kept."""
        book.mid = mid
        self._set_quote(book, mid, requote=False)
        book.bars.roll(now)
        wanted = self.cfg.rate * self.cfg.trade_share * min(dt_s, 60.0) + book.carry
        count = int(wanted)
        book.carry = wanted - count
        qty = round(1500 / mid, book.inst.qty_dp) or book.inst.step
        for i in range(count):
            self._record_trade(book, now, mid, qty, i % 2 == 0)

    def _roll(self, book: VenueBook, ts: int, out: list[Event]) -> None:
        for bar in book.bars.roll(ts):
            out.append(BarUpdate(book.venue, book.symbol, ts, bar, True))

    # ------------------------------------------------------------------------ events

    def _qty(self, book: VenueBook, notional: float) -> float:
        inst = book.inst
        raw = notional / book.mid * math.exp(book.rng.gauss(0.0, 1.0))
        return max(round(raw, inst.qty_dp), inst.step)

    def _set_quote(self, book: VenueBook, mid: float, requote: bool) -> None:
        tick = book.inst.tick
        half = max(tick / 2, mid * self.cfg.spread_bps / 2e4)
        bid_ticks = math.floor((mid - half) / tick)
        ask_ticks = max(bid_ticks + 1, math.ceil((mid + half) / tick))
        book.bid, book.ask = bid_ticks * tick, ask_ticks * tick
        if requote:
            book.bid_qty = self._qty(book, 5_000.0)
            book.ask_qty = self._qty(book, 5_000.0)
            book.update_id += 1 + int(book.rng.random() * 3)

    def _quote(self, book: VenueBook, ts: int, mid: float) -> Quote:
        self._set_quote(book, mid, requote=True)
        bid, ask = book.bid, book.ask
        return Quote(
            book.venue, book.symbol, ts, book.update_id, bid, book.bid_qty, ask, book.ask_qty
        )

    def _trade(self, book: VenueBook, ts: int, mid: float) -> Trade:
        self._set_quote(book, mid, requote=False)
        taker_buy = book.rng.random() < 0.5
        price = book.ask if taker_buy else book.bid
        self._record_trade(book, ts, price, self._qty(book, 1_500.0), taker_buy)
        return Trade(
            book.venue, book.symbol, ts, book.trade_id, price, book.last_qty, taker_buy, book.seq
        )

    def _record_trade(
        self, book: VenueBook, ts: int, price: float, qty: float, taker_buy: bool
    ) -> None:
        book.trade_id += 1
        book.seq += 1
        book.last_price, book.last_qty = price, qty
        book.last_taker_buy, book.last_ts = taker_buy, ts
        book.bars.current.add_trade(price, qty, taker_buy, book.trade_id)
        book.high_24h = max(book.high_24h, price)
        book.low_24h = min(book.low_24h, price)
        book.volume_24h += qty
        book.turnover_24h += qty * price

    def _mark(self, book: VenueBook, now: int) -> Mark:
        tick = book.inst.tick
        mark = round(book.mid / tick) * tick
        return Mark(
            book.venue,
            book.symbol,
            now,
            mark,
            self.true_price(book.symbol),
            self.funding_rate(book.venue, book.symbol),
            self.next_funding_ms(book.venue, book.symbol, now),
            self.open_interest(book.venue, book.symbol, now),
        )

    def _liquidation(self, book: VenueBook, now: int) -> Liquidation:
        long_liquidated = book.rng.random() < 0.5
        price = book.mid * (0.9985 if long_liquidated else 1.0015)
        price = round(price / book.inst.tick) * book.inst.tick
        return Liquidation(
            book.venue, book.symbol, now, long_liquidated, price, self._qty(book, 20_000.0)
        )
