"""CME crypto futures: products, contract months, canonical names and expiry dates. Pure.

Canonical contract names are `<PRODUCT>-CME-<YYYY><month code>`, e.g. `BTC-CME-2026Z` (Bitcoin
futures, December 2026) or `MET-CME-2027H` (Micro Ether, March 2027). Month codes (CME's):
F Jan, G Feb, H Mar, J Apr, K May, M Jun, N Jul, Q Aug, U Sep, V Oct, X Nov, Z Dec. The
exchange's own code (`venue_symbol`) is product + month code + last year digit (`BTCZ6`).

Contract terms (CME contract specifications):
- BTC Bitcoin futures: 5 bitcoin per contract ("1 futures contract for 5 bitcoin",
  cmegroup.com/trading/equity-index/us-index/bitcoin_contractSpecs_options.html);
- MBT Micro Bitcoin: 0.10 bitcoin; MET Micro Ether: 0.1 ether (contract unit table of
  cmegroup.com/markets/cryptocurrencies/micro-cryptocurrency-futures-and-options.html);
- ETH Ether futures: 50 ether (CME's standard ether contract, as reported by CoinDesk,
  2023-10-30: "standard ether futures have a contract size of 50 ETH").
- Termination of trading (all four): "4:00 p.m. London time on the last Friday of the contract
  month. If this is not both a London and the U.S. business day, trading terminates on the
  prior London and the U.S. business day" (the Bitcoin contract specs page above).
- Daily settlement: "based on CME Globex trading activity between 14:59:00 and 15:00:00
  Central Time (CT), the settlement period" (VWAP of the lead month's trades; CME's Bitcoin
  daily settlement procedure, cmegroupclientsite.atlassian.net/wiki/spaces/EPICSANDBOX/pages/
  46208259/Bitcoin): a trade date settles at 15:00 Chicago, and the basis reference is the
  1m bar covering that same minute (`reference.py`).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from microservices.common.errors import BadMessage

LONDON: Final = ZoneInfo("Europe/London")
CHICAGO: Final = ZoneInfo("America/Chicago")
EXPIRY_TIME: Final = time(16, 0)  # London
SETTLEMENT_TIME: Final = time(15, 0)  # Chicago
DAY_MS: Final = 86_400_000
MONTH_CODES: Final = "FGHJKMNQUVXZ"  # index + 1 = calendar month
MONTH_NAMES: Final = {  # CME's product pages spell July JLY
    "JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "JLY": 7,
    "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Product:
    code: str  # CME product code: BTC, MBT, ETH, MET
    base: str  # the crypto asset: BTC, ETH
    contract_size: float  # base units per contract
    title: str


PRODUCTS: Final[dict[str, Product]] = {
    p.code: p
    for p in (
        Product("BTC", "BTC", 5.0, "Bitcoin futures"),
        Product("MBT", "BTC", 0.1, "Micro Bitcoin futures"),
        Product("ETH", "ETH", 50.0, "Ether futures"),
        Product("MET", "ETH", 0.1, "Micro Ether futures"),
    )
}


def good_friday(year: int) -> date:
    """Easter Sunday (anonymous Gregorian algorithm, Meeus/Jones/Butcher) minus two days."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (b - (b + 8) // 25 + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    weekday = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * weekday) // 451
    month, day = divmod(h + weekday - 7 * m + 114, 31)
    return date(year, month, day + 1) - timedelta(days=2)


def thanksgiving(year: int) -> date:
    """US Thanksgiving: the fourth Thursday of November."""
    first = date(year, 11, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 21)


def closed_days(year: int) -> frozenset[date]:
    """Weekdays that are not both a London and a US business day and can end a contract
    month near its last Friday: New Year's Day, Good Friday, US Thanksgiving, Christmas Day
    (and its US Friday substitute when it falls on a Saturday), Boxing Day (UK)."""
    days = {date(year, 1, 1), good_friday(year), thanksgiving(year), date(year, 12, 25),
            date(year, 12, 26)}  # fmt: skip
    if date(year, 12, 25).weekday() == 5:
        days.add(date(year, 12, 24))
    return frozenset(days)


@dataclass(frozen=True, slots=True, order=True)
class ContractMonth:
    """One product's contract month (ordered by product, then expiry)."""

    product: str
    year: int
    month: int

    @property
    def name(self) -> str:
        return f"{self.product}-CME-{self.year}{MONTH_CODES[self.month - 1]}"

    @property
    def code(self) -> str:
        """CME's short code: product, month code, last digit of the year (BTCZ6)."""
        return f"{self.product}{MONTH_CODES[self.month - 1]}{self.year % 10}"

    @property
    def spec(self) -> Product:
        return PRODUCTS[self.product]

    def last_trade_date(self, holidays: Iterable[date] = ()) -> date:
        """The last Friday of the month, moved back over weekends and closed days."""
        extra = frozenset(holidays) | closed_days(self.year)
        day = date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])
        while day.weekday() != 4:
            day -= timedelta(days=1)
        while day.weekday() >= 5 or day in extra:
            day -= timedelta(days=1)
        return day

    def expiry_ms(self, holidays: Iterable[date] = ()) -> int:
        """Trading ends 16:00 London time on the last trade date (epoch ms)."""
        ends = datetime.combine(self.last_trade_date(holidays), EXPIRY_TIME, LONDON)
        return int(ends.timestamp() * 1000)


def settlement_ms(trade_date: date) -> int:
    """Daily settlement time of a trade date: 15:00 Chicago (epoch ms)."""
    return int(datetime.combine(trade_date, SETTLEMENT_TIME, CHICAGO).timestamp() * 1000)


def product_of(code: str) -> Product:
    found = PRODUCTS.get(code.strip().upper())
    if found is None:
        raise BadMessage(f"unknown CME product {code!r}")
    return found


_CANONICAL: Final = re.compile(r"^([A-Z]{3})-CME-(\d{4})([FGHJKMNQUVXZ])$")
_SHORT: Final = re.compile(r"^([A-Z]{3})([FGHJKMNQUVXZ])(\d{1,2})$")


def parse_contract(text: str, trade_year: int) -> ContractMonth:
    """`BTC-CME-2026Z`, `BTCZ6` or `BTCZ26`; a one- or two-digit year is the first year ending
    in those digits from `trade_year - 1` on. BadMessage when malformed or unknown."""
    raw = text.strip().upper()
    found = _CANONICAL.match(raw)
    if found is not None:
        product, year, letter = found.group(1), int(found.group(2)), found.group(3)
    else:
        short = _SHORT.match(raw)
        if short is None:
            raise BadMessage(f"not a CME contract: {text[:40]!r}")
        product, letter, digits = short.group(1), short.group(2), short.group(3)
        year = _year_from_digits(digits, trade_year)
    product_of(product)
    return ContractMonth(product, year, MONTH_CODES.index(letter) + 1)


def _year_from_digits(digits: str, trade_year: int) -> int:
    modulo = 10 ** len(digits)
    year = trade_year - 1
    while year % modulo != int(digits):
        year += 1
    return year


def parse_month_label(product: str, label: str, trade_year: int) -> ContractMonth:
    """A product page's month label (`DEC 26`, `JLY 27`) of `product`."""
    parts = label.strip().upper().split()
    if len(parts) != 2 or parts[0] not in MONTH_NAMES or not parts[1].isdigit():
        raise BadMessage(f"not a contract month: {label[:40]!r}")
    product_of(product)
    year = _year_from_digits(parts[1][-2:], trade_year)
    return ContractMonth(product.upper(), year, MONTH_NAMES[parts[0]])


def parse_mmy(product: str, mmy: str) -> ContractMonth:
    """A settlement file's maturity month-year (`202612`) of `product`."""
    text = mmy.strip()
    if len(text) < 6 or not text[:6].isdigit() or not 1 <= int(text[4:6]) <= 12:
        raise BadMessage(f"not a maturity month: {mmy[:20]!r}")
    product_of(product)
    return ContractMonth(product.upper(), int(text[:4]), int(text[4:6]))
