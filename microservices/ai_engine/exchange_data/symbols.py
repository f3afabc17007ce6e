"""The symbol forms seed 002's queries use, mapped to the store's columns.

Rows keep the venue's symbol (`symbol`: BTC-USD, BTC-PERPETUAL, BTCUSDT), the canonical name
(`canonical_symbol`: BTCUSD, BTCUSD.INV) and the followed symbol (`symbol_group`: BTCUSDT for
every BTC instrument quoted in USD, USDT or USDC, CME's and Deribit's included). A query's
`symbol` resolves, after the asset alias table (XBT -> BTC, MATIC -> POL):

| form                               | example                 | rows                            |
|------------------------------------|-------------------------|---------------------------------|
| BASE-PERPETUAL, BASE-PERP          | BTC-PERPETUAL           | perpetuals of the BASEUSDT group|
| BASE-QUOTE, BASE/QUOTE, USD-class  | BTC-USD, ETH/USDT       | the BASEUSDT group              |
| BASE-QUOTE, other quote            | ETH-BTC                 | the ETHBTC group                |
| BASE + USD-class quote             | BTCUSDT, BTCUSD         | the BASEUSDT group              |
| bare code                          | BTC, ETHBTC             | the BTCUSDT group (or ETHBTC's) |
| anything else                      | BTCUSD.INV, BTC-27MAR26 | that venue or canonical symbol  |

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from microservices.common.instruments import GROUP_QUOTE, USD_EQUIVALENTS, canonical_asset

SYMBOL_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._/:-]{0,49}$"
_PERP: Final = re.compile(r"^([A-Z0-9]{1,20})[-_/]?PERP(ETUAL)?$")
_PAIR: Final = re.compile(r"^([A-Z0-9]{1,20})[-/]([A-Z0-9]{2,10})$")
_CODE: Final = re.compile(r"^[A-Z0-9]{1,24}$")
# longest first, so BTCUSDT is BTC + USDT, not BTCUSD + T
_USD_SUFFIXES: Final = tuple(sorted(USD_EQUIVALENTS, key=len, reverse=True))


@dataclass(frozen=True, slots=True)
class SymbolFilter:
    """Either followed groups (`symbol_group = ANY(groups)`, perpetuals only when `perp_only`)
    or one exact venue or canonical symbol (`exact`)."""

    groups: tuple[str, ...] = ()
    perp_only: bool = False
    exact: str | None = None

    def describe(self) -> dict[str, object]:
        """How the symbol was read, for the response's `filters`."""
        if self.exact is not None:
            return {"match": "symbol", "symbol": self.exact}
        return {"match": "group", "groups": list(self.groups), "perpetual_only": self.perp_only}


def _asset(code: str) -> str:
    try:
        return canonical_asset(code)
    except ValueError:
        return code


def _usd_group(base: str) -> str:
    return _asset(base) + GROUP_QUOTE


def resolve_symbol(text: str) -> SymbolFilter:
    """Map one query `symbol` (module table) to the rows it means."""
    upper = text.strip().upper()
    perp = _PERP.match(upper)
    if perp is not None:
        return SymbolFilter(groups=(_usd_group(perp.group(1)),), perp_only=True)
    pair = _PAIR.match(upper)
    if pair is not None:
        base, quote = pair.groups()
        if quote in USD_EQUIVALENTS:
            return SymbolFilter(groups=(_usd_group(base),))
        if not quote.isdigit() and not any(ch.isdigit() for ch in quote[:2]):
            return SymbolFilter(groups=(_asset(base) + _asset(quote),))
    if _CODE.match(upper):
        for quote in _USD_SUFFIXES:
            if upper.endswith(quote) and len(upper) > len(quote):
                return SymbolFilter(groups=(_usd_group(upper[: -len(quote)]),))
        return SymbolFilter(groups=(_usd_group(upper), _asset(upper)))
    return SymbolFilter(exact=upper)
