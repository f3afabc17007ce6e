"""Values in USD through the product's own USD-class prices, and the stablecoin depeg check.

Pure: imports only `common.instruments` and the standard library. Prices come in as one
mapping of followed symbol -> latest price: group keys (`BTCUSDT`, `EURUSDT`: the asset in
USD-class quotes) and stablecoin pairs, which keep their own canonical symbol (`USDTUSD` from
Coinbase USDT-USD, `USDCUSDT` from Binance). Missing, non-finite or non-positive prices count
as unknown; an unknown conversion gives None, never a guess.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from typing import Final

from microservices.common.instruments import GROUP_QUOTE, USD_EQUIVALENTS, Instrument, group_key

USD: Final = "USD"
# |price - 1| beyond which a stablecoin is flagged (DEPEG); a fraction: 0.005 = 0.5 %
DEFAULT_DEPEG_THRESHOLD: Final = 0.005


def _price(prices: Mapping[str, float], symbol: str) -> float | None:
    value = prices.get(symbol)
    if value is None or not math.isfinite(value) or value <= 0:
        return None
    return value


def stablecoin_usd_price(
    asset: str, prices: Mapping[str, float], usd_quotes: Collection[str] = USD_EQUIVALENTS
) -> float | None:
    """A USD-class asset's own USD price where the product sees one: `<ASSET>USD` directly,
    else through another USD-class asset that has a direct USD price (`USDCUSDT` x `USDTUSD`,
    or `USDTUSD` / `USDTUSDC`), else None. USD itself is 1. A lone `USDCUSDT` says nothing
    about which of the two moved, so it prices neither."""
    if asset == USD:
        return 1.0
    direct = _price(prices, asset + USD)
    if direct is not None:
        return direct
    for other in sorted(usd_quotes):
        other_usd = _price(prices, other + USD) if other not in (asset, USD) else None
        if other_usd is None:  # only a USD-anchored asset says which side moved
            continue
        cross = _price(prices, asset + other)
        if cross is not None:
            return cross * other_usd
        inverse = _price(prices, other + asset)
        if inverse is not None:
            return other_usd / inverse
    return None


def asset_usd_price(
    asset: str, prices: Mapping[str, float], usd_quotes: Collection[str] = USD_EQUIVALENTS
) -> float | None:
    """USD per unit of `asset`: a USD-class asset's own price where known, else 1.0; any other
    asset through its group price (`BTC` -> `BTCUSDT`, `EUR` -> `EURUSDT`), else None."""
    if asset == USD or asset in usd_quotes:
        own = stablecoin_usd_price(asset, prices, usd_quotes)
        return 1.0 if own is None else own
    return _price(prices, asset + GROUP_QUOTE)


def notional_usd(
    price: float,
    size: float,
    quote: str,
    prices: Mapping[str, float],
    usd_quotes: Collection[str] = USD_EQUIVALENTS,
) -> float | None:
    """USD value of `size` base units at `price` quote units (ETHBTC through BTCUSDT); None
    when the quote has no USD price or an input is not finite."""
    rate = asset_usd_price(quote, prices, usd_quotes)
    value = price * size * rate if rate is not None else math.nan
    return value if math.isfinite(value) else None


def contract_notional_usd(
    inst: Instrument,
    price: float,
    contracts: float,
    prices: Mapping[str, float],
    usd_quotes: Collection[str] = USD_EQUIVALENTS,
) -> float | None:
    """USD value of `contracts` of an instrument at `price`: linear (and spot) contracts are
    `contract_size` base units each, inverse contracts `contract_size` quote units each (price
    is then irrelevant). None for options and where the quote has no USD price."""
    if inst.market == "option":
        return None
    return contracts_usd(
        contracts, inst.contract_size, inst.inverse, price, inst.quote, prices, usd_quotes
    )


def contracts_usd(
    contracts: float,
    contract_size: float,
    inverse: bool,
    price: float,
    quote: str,
    prices: Mapping[str, float],
    usd_quotes: Collection[str] = USD_EQUIVALENTS,
) -> float | None:
    """`contract_notional_usd` from the instrument's numbers: linear contracts x contract_size
    x price (quote units) x the quote's USD price; inverse contracts x contract_size (quote
    units, price irrelevant) x the quote's USD price. None without a USD price of the quote."""
    rate = asset_usd_price(quote, prices, usd_quotes)
    in_quote = contracts * contract_size * (1.0 if inverse else price)
    value = in_quote * rate if rate is not None else math.nan
    return value if math.isfinite(value) else None


def is_depegged(usd_price: float | None, threshold: float = DEFAULT_DEPEG_THRESHOLD) -> bool:
    """Whether to raise DEPEG: a known USD price more than `threshold` (fraction) from 1."""
    if usd_price is None or not math.isfinite(usd_price):
        return False
    return abs(usd_price - 1.0) > threshold


def depegged_stablecoins(
    prices: Mapping[str, float],
    usd_quotes: Collection[str] = USD_EQUIVALENTS,
    threshold: float = DEFAULT_DEPEG_THRESHOLD,
) -> dict[str, float]:
    """USD-class assets (USD excluded) whose own USD price is known and off peg -> that price."""
    flagged: dict[str, float] = {}
    for asset in sorted(usd_quotes):
        if asset == USD:
            continue
        own = stablecoin_usd_price(asset, prices, usd_quotes)
        if own is not None and is_depegged(own, threshold):
            flagged[asset] = own
    return flagged


def group_prices(
    quotes: Iterable[tuple[Instrument, float | None]],
    usd_quotes: Collection[str] = USD_EQUIVALENTS,
) -> dict[str, float]:
    """Followed symbol -> a last price in USD-class units, from (instrument, last price)
    pairs: the input `asset_usd_price` reads (`BTCUSDT` from any venue's BTC/USD-class spot
    or perpetual; the first usable price of a group wins)."""
    prices: dict[str, float] = {}
    for inst, last in quotes:
        if inst.quote not in usd_quotes or inst.market not in ("spot", "perpetual"):
            continue
        if last is None or not math.isfinite(last) or last <= 0 or inst.price_multiplier != 1:
            continue
        key = group_key(inst, usd_quotes)
        if key is not None:
            prices.setdefault(key, last)
    return prices


def volumes_in_usd(
    rows: Iterable[tuple[Instrument, float | None, float | None]],
    usd_quotes: Collection[str] = USD_EQUIVALENTS,
) -> list[tuple[Instrument, float | None]]:
    """(instrument, last price, 24 h volume in quote units) -> (instrument, 24 h USD volume):
    quote volumes converted through the rows' own USD-class prices (ETHBTC through BTCUSDT);
    None where the quote has no USD price (counted as 0 by `usd_volume_by_symbol`)."""
    listed = list(rows)
    prices = group_prices(((inst, last) for inst, last, _ in listed), usd_quotes)
    out: list[tuple[Instrument, float | None]] = []
    for inst, _, quote_volume in listed:
        rate = asset_usd_price(inst.quote, prices, usd_quotes)
        usd = None if quote_volume is None or rate is None else quote_volume * rate
        out.append((inst, usd if usd is None or math.isfinite(usd) else None))
    return out
