"""How the simulator names its symbols: every simulated symbol is BASE + USDT (`BTCUSDT`), the
followed symbol of its group; each venue dialect spells it its own way (Binance and Bybit
`BTCUSDT`, Coinbase `BTC-USD`) and lists it with the instrument's tick and lot sizes.

Any base asset can be simulated; `SAMPLE_BASES` is a list of fifty liquid ones for runs,
tests and benchmarks that want many symbols. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

SIM_QUOTE: Final = "USDT"

SAMPLE_BASES: Final = (
    "BTC", "ETH", "SOL", "BNB", "XRP", "DOGE", "ADA", "AVAX", "LINK", "DOT",
    "LTC", "BCH", "TRX", "NEAR", "ATOM", "UNI", "ETC", "FIL", "APT", "ARB",
    "OP", "INJ", "SUI", "SEI", "TIA", "AAVE", "MKR", "LDO", "RUNE", "STX",
    "IMX", "HBAR", "ICP", "XLM", "ALGO", "EGLD", "SAND", "MANA", "AXS", "GRT",
    "CRV", "SNX", "COMP", "DYDX", "FET", "RENDER", "WLD", "JUP", "PYTH", "ENA",
)  # fmt: skip


def sim_base(symbol: str) -> str:
    """`BTCUSDT` -> `BTC`."""
    return symbol.removesuffix(SIM_QUOTE)


def is_sim_symbol(symbol: str) -> bool:
    """A symbol the simulator can simulate: an upper-case alphanumeric base + USDT."""
    base = sim_base(symbol)
    return (
        symbol.endswith(SIM_QUOTE)
        and 1 <= len(base) <= 20
        and base.isalnum()
        and base.isascii()
        and base == base.upper()
    )


def sample_symbols(count: int) -> list[str]:
    """The first `count` of SAMPLE_BASES as simulated symbols (`BTCUSDT`, `ETHUSDT`, ...)."""
    return [f"{base}{SIM_QUOTE}" for base in SAMPLE_BASES[:count]]


def by_venue_symbol(venue_syms: Mapping[str, str]) -> dict[str, str]:
    """Invert a dialect's symbol -> venue symbol map (keys upper case, for lookups)."""
    return {vsym.upper(): symbol for symbol, vsym in venue_syms.items()}
