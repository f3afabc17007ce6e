"""Coinbase Exchange WebSocket dialect at `/coinbase` (the ws-feed).

The client must subscribe within the configured time (5 s like Coinbase) or is disconnected.
Channels: ticker, matches (`last_match` first; `side` is the maker side), heartbeat (every
second per product) and level2_batch: a snapshot of the whole L2 ladder, then one l2update
per product and market step with the changed levels (size "0" removes). level2 carries no
sequence number, so a lost l2update (the `depth_gap_every` fault) cannot be detected by a
client: only a crossed book or a reconnect tells it to start again from a new snapshot.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, Final

from aiohttp import web

from microservices.exchange_simulator.market import (
    BarUpdate,
    DepthDiff,
    Event,
    MarketModel,
    Trade,
)
from microservices.exchange_simulator.naming import by_venue_symbol, sim_base
from microservices.exchange_simulator.runtime import ctx_of
from microservices.exchange_simulator.session import DATA, Item, WsSession
from microservices.exchange_simulator.venues.base import (
    Dialect,
    Rendered,
    WsOptions,
    fmt,
    iso_us,
    parse_json,
    serve_ws,
)

CHANNELS: Final = ("ticker", "matches", "heartbeat", "level2_batch")
AUTH_CHANNELS: Final = ("level2", "level3", "full", "user")
_MAKER_MIX: Final = 0x2545F4914F6CDD1D2545F4914F6CDD1D
_TAKER_MIX: Final = 0x9E3779B97F4A7C15F39CC0605CEDC835


def _order_id(trade_id: int, mix: int) -> str:
    return str(uuid.UUID(int=(trade_id * mix) & ((1 << 128) - 1)))


class CoinbaseDialect(Dialect):
    url_venue = "coinbase"
    market_venue = "coinbase"

    def __init__(self, market: MarketModel) -> None:
        super().__init__(market)
        # BTCUSDT (the simulated BTC/USD-class price) is Coinbase's BTC-USD book
        self.products = {s: f"{sim_base(s)}-USD" for s in market.instruments}
        self.by_product = by_venue_symbol(self.products)

    # ---------------------------------------------------------------- messages

    def key_symbol(self, key: str) -> str | None:
        return self.by_product.get(key.partition(":")[2].upper())

    def on_message(self, session: WsSession, text: str) -> None:
        msg = parse_json(text)
        keys: list[str] = []
        if not isinstance(msg, dict):
            reason: str | None = "Malformed JSON"
        elif msg.get("type") not in ("subscribe", "unsubscribe"):
            reason = "Type has to be either subscribe or unsubscribe"
        else:
            keys, reason = self._requested(msg)
        if reason is not None or not isinstance(msg, dict):
            error = {"type": "error", "message": "Failed to subscribe", "reason": reason}
            session.send_control(error)
            return
        kind = msg["type"]
        if kind == "subscribe":
            session.send_control(self._subscriptions(session.subs | set(keys)))
            session.subscribe(keys)
        else:
            session.unsubscribe(keys)
            session.send_control(self._subscriptions(session.subs))

    def _requested(self, msg: dict[str, Any]) -> tuple[list[str], str | None]:
        """(channel:product keys, error reason or None) of a (un)subscribe message."""
        default = msg.get("product_ids") or []
        keys: list[str] = []
        for channel in msg.get("channels") or []:
            if isinstance(channel, dict):
                name, products = channel.get("name"), channel.get("product_ids") or default
            else:
                name, products = channel, default
            if name in AUTH_CHANNELS:
                return [], f"{name} channel requires authentication"
            if name not in CHANNELS:
                return [], f"{name} is not a valid channel"
            for product in products:
                if str(product).upper() not in self.by_product:
                    return [], f"{product} is not a valid product"
                keys.append(f"{name}:{product}")
        if not keys:
            return [], "No channels provided"
        return keys, None

    @staticmethod
    def _subscriptions(keys: Iterable[str]) -> dict[str, Any]:
        grouped: dict[str, list[str]] = {}
        for key in sorted(keys):
            channel, _, product = key.partition(":")
            grouped.setdefault(channel, []).append(product)
        channels = [{"name": name, "product_ids": ids} for name, ids in grouped.items()]
        return {"type": "subscriptions", "channels": channels}

    def replay_key(self, obj: Any) -> str | None:
        if not isinstance(obj, dict) or not isinstance(obj.get("product_id"), str):
            return None
        kind = obj.get("type")
        channel = {
            "ticker": "ticker",
            "match": "matches",
            "last_match": "matches",
            "heartbeat": "heartbeat",
            "snapshot": "level2_batch",
            "l2update": "level2_batch",
        }.get(str(kind))
        return f"{channel}:{obj['product_id']}" if channel else None

    def is_control(self, obj: Any) -> bool:
        return isinstance(obj, dict) and obj.get("type") in ("subscriptions", "error")

    # ---------------------------------------------------------------- frames

    def initial_frames(self, keys: Iterable[str]) -> list[Item]:
        items: list[Item] = []
        for key in keys:
            symbol = self.key_symbol(key)
            if symbol is None:
                continue
            book = self.market.book(self.market_venue, symbol)
            trade = Trade(
                self.market_venue,
                symbol,
                book.last_ts or self.market.now_ms,
                book.trade_id,
                book.last_price,
                book.last_qty,
                book.last_taker_buy,
                book.seq,
            )
            channel = key.partition(":")[0]
            payload: dict[str, Any] | None = None
            if channel == "matches":
                payload = {**self._match(trade), "type": "last_match"}
            elif channel == "ticker":
                payload = self._ticker(trade)
            elif channel == "level2_batch":
                payload = self._snapshot(symbol)
            if payload is not None:
                items.append((DATA, key, self.encode(key, payload, "")))
        return items

    def render(self, events: list[Event], wanted: set[str]) -> Rendered:
        out: Rendered = []
        for ev in events:
            product = self.products[ev.symbol]
            if type(ev) is Trade:
                if f"ticker:{product}" in wanted:
                    out.append((f"ticker:{product}", self._ticker(ev)))
                if f"matches:{product}" in wanted:
                    out.append((f"matches:{product}", self._match(ev)))
            elif type(ev) is BarUpdate and not ev.closed and f"heartbeat:{product}" in wanted:
                out.append((f"heartbeat:{product}", self._heartbeat(ev.symbol, ev.ts_ms)))
            elif type(ev) is DepthDiff and f"level2_batch:{product}" in wanted:
                self.market.depth(self.market_venue, ev.symbol)  # in use: keep it live
                out.append((f"level2_batch:{product}", self._l2update(ev)))
        return out

    def _price(self, symbol: str, value: float) -> str:
        return fmt(value, self.market.instruments[symbol].price_dp)

    def _ticker(self, ev: Trade) -> dict[str, Any]:
        book, s = self.market.book(self.market_venue, ev.symbol), ev.symbol
        return {
            "type": "ticker",
            "sequence": ev.seq,
            "product_id": self.products[s],
            "price": self._price(s, ev.price),
            "open_24h": self._price(s, book.open_24h),
            "volume_24h": fmt(book.volume_24h, 8),
            "low_24h": self._price(s, book.low_24h),
            "high_24h": self._price(s, book.high_24h),
            "volume_30d": fmt(book.volume_24h * 30, 8),
            "best_bid": self._price(s, book.bid),
            "best_bid_size": fmt(book.bid_qty, 8),
            "best_ask": self._price(s, book.ask),
            "best_ask_size": fmt(book.ask_qty, 8),
            "side": "buy" if ev.taker_buy else "sell",
            "time": iso_us(ev.ts_ms),
            "trade_id": ev.trade_id,
            "last_size": fmt(ev.qty, 8),
        }

    def _match(self, ev: Trade) -> dict[str, Any]:
        return {
            "type": "match",
            "trade_id": ev.trade_id,
            "maker_order_id": _order_id(ev.trade_id, _MAKER_MIX),
            "taker_order_id": _order_id(ev.trade_id, _TAKER_MIX),
            "side": "sell" if ev.taker_buy else "buy",  # the maker's side
            "size": fmt(ev.qty, 8),
            "price": self._price(ev.symbol, ev.price),
            "product_id": self.products[ev.symbol],
            "sequence": ev.seq,
            "time": iso_us(ev.ts_ms),
        }

    def _heartbeat(self, symbol: str, ts_ms: int) -> dict[str, Any]:
        book = self.market.book(self.market_venue, symbol)
        return {
            "type": "heartbeat",
            "sequence": book.seq,
            "last_trade_id": book.trade_id,
            "product_id": self.products[symbol],
            "time": iso_us(ts_ms),
        }

    def _size(self, value: float) -> str:
        return fmt(value, 8) if value else "0"

    def _snapshot(self, symbol: str) -> dict[str, Any]:
        """Every level of the pair's L2 ladder (it comes to life on the first subscription)."""
        ladder = self.market.depth(self.market_venue, symbol)
        bids, asks = ladder.top()
        price, tick = self._price, ladder.tick
        return {
            "type": "snapshot",
            "product_id": self.products[symbol],
            "bids": [[price(symbol, t * tick), self._size(q)] for t, q in bids],
            "asks": [[price(symbol, t * tick), self._size(q)] for t, q in asks],
        }

    def _l2update(self, ev: DepthDiff) -> dict[str, Any]:
        s, price = ev.symbol, self._price
        changes = [["buy", price(s, p), self._size(q)] for p, q in ev.bids]
        changes += [["sell", price(s, p), self._size(q)] for p, q in ev.asks]
        return {
            "type": "l2update",
            "product_id": self.products[s],
            "changes": changes,
            "time": iso_us(ev.ts_ms),
        }

    def is_book_diff(self, key: str, data: bytes) -> bool:
        return key.startswith("level2_batch:") and b'"l2update"' in data


async def ws_feed(request: web.Request) -> web.WebSocketResponse:
    ctx = ctx_of(request)
    options = WsOptions(subscribe_timeout_s=ctx.config.coinbase_subscribe_timeout_s)
    return await serve_ws(request, ctx, ctx.hub.dialects["coinbase"], "", options)


def ws_routes(prefix: str = "/coinbase") -> list[web.RouteDef]:
    return [web.get(prefix, ws_feed), web.get(prefix + "/", ws_feed)]
