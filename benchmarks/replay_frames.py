"""Pre-encoded frames of the replay feed (`replay_feed.py`): trades and best bid/ask tickers
in the simulator's dialects, as complete server WebSocket frames with placeholders.

Placeholders (same width as what replaces them, so the frame length is final): `TS` (13
characters, epoch ms), `ISO` (27, Coinbase's '2026-01-01T00:00:00.000000Z') and `ID` (12
digits, a trade id). A `Template` is (frame bytes, offsets of TS, offsets of ISO, offset of
ID or -1, venue symbol). Per symbol the cycle holds `VARIANTS` trades and tickers at slightly
different prices, so consecutive tickers of a symbol differ (Bybit's ticker merger emits on
change only). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

TS: Final = "~" * 13
ISO: Final = "`" * 27
ID: Final = "^" * 12
VARIANTS: Final = 4

Template = tuple[bytes, tuple[int, ...], tuple[int, ...], int, str]
Builder = Callable[
    [str, float, int], tuple[str, str]
]  # (symbol, price, variant) -> (trade, ticker)


def ws_frame(payload: bytes) -> bytes:
    """An unmasked, unfragmented server text frame."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 1 << 16:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


def offsets(data: bytes, marker: str) -> tuple[int, ...]:
    token, out, at = marker.encode(), [], data.find(marker.encode())
    while at >= 0:
        out.append(at)
        at = data.find(token, at + len(token))
    return tuple(out)


def template(text: str, symbol: str) -> Template:
    data = ws_frame(text.encode())
    ids = offsets(data, ID)
    return data, offsets(data, TS), offsets(data, ISO), ids[0] if ids else -1, symbol


def quote(price: float, variant: int) -> tuple[str, str, str]:
    """(trade price, bid, ask) of one variant."""
    step = price * 1e-4
    return f"{price + variant * step:.2f}", f"{price - (variant + 1) * step:.2f}", \
        f"{price + (variant + 1) * step:.2f}"  # fmt: skip


def binance(futures: bool) -> Builder:
    def build(symbol: str, price: float, variant: int) -> tuple[str, str]:
        px, bid, ask = quote(price, variant)
        stream, maker = symbol.lower(), "true" if variant % 2 else "false"
        trade = (
            f'{{"stream":"{stream}@aggTrade","data":{{"e":"aggTrade","E":{TS},"s":"{symbol}",'
            f'"a":{ID},"p":"{px}","q":"0.01000000","f":100,"l":100,"T":{TS},"m":{maker},'
            f'"M":true}}}}'
        )
        timed = f',"T":{TS},"E":{TS}' if futures else ""
        kind = '"e":"bookTicker",' if futures else ""
        ticker = (
            f'{{"stream":"{stream}@bookTicker","data":{{{kind}"u":400900217,"s":"{symbol}",'
            f'"b":"{bid}","B":"1.50000000","a":"{ask}","A":"2.25000000"{timed}}}}}'
        )
        return trade, ticker

    return build


def bybit(symbol: str, price: float, variant: int) -> tuple[str, str]:
    px, bid, ask = quote(price, variant)
    side = "Sell" if variant % 2 else "Buy"
    trade = (
        f'{{"topic":"publicTrade.{symbol}","type":"snapshot","ts":{TS},"data":[{{"T":{TS},'
        f'"s":"{symbol}","S":"{side}","v":"0.010","p":"{px}","L":"PlusTick","i":"{ID}",'
        f'"BT":false}}]}}'
    )
    ticker = (
        f'{{"topic":"tickers.{symbol}","type":"snapshot","data":{{"symbol":"{symbol}",'
        f'"bid1Price":"{bid}","bid1Size":"1.5","ask1Price":"{ask}","ask1Size":"2.25"}},'
        f'"cs":1,"ts":{TS}}}'
    )
    return trade, ticker


def coinbase(product: str, price: float, variant: int) -> tuple[str, str]:
    px, bid, ask = quote(price, variant)
    side = "sell" if variant % 2 else "buy"
    trade = (
        f'{{"type":"match","trade_id":{ID},"maker_order_id":"m","taker_order_id":"t",'
        f'"side":"{side}","size":"0.01","price":"{px}","product_id":"{product}",'
        f'"sequence":1,"time":"{ISO}"}}'
    )
    ticker = (
        f'{{"type":"ticker","sequence":1,"product_id":"{product}","price":"{px}",'
        f'"best_bid":"{bid}","best_bid_size":"1.5","best_ask":"{ask}","best_ask_size":"2.25",'
        f'"side":"{side}","time":"{ISO}","trade_id":1,"last_size":"0.01"}}'
    )
    return trade, ticker


BUILDERS: Final[dict[str, Builder]] = {
    "binance": binance(futures=False),
    "binance_futures": binance(futures=True),
    "bybit": bybit,
    "coinbase": coinbase,
}


def templates(venue: str, symbols: list[str]) -> list[Template]:
    """The send cycle of one connection: per variant, a trade then a ticker of each symbol."""
    build = BUILDERS.get(venue)
    if build is None:
        return []
    out: list[Template] = []
    for variant in range(VARIANTS):
        for index, symbol in enumerate(symbols):
            price = 100.0 + 10.0 * index
            for text in build(symbol, price, variant):
                out.append(template(text, symbol))
    return out
