"""The file importer: settlement rows from a CSV the user has. Pure (text in, rows out).

Two layouts, told apart by the header:
- the simple CSV: `trade_date,contract,settlement,volume,open_interest` (dates `2026-12-04`,
  contracts canonical `BTC-CME-2026Z` or CME codes `BTCZ6`), see
  `tests/fixtures/exchanges/cme/settlements_sample.csv`;
- CME's settlement file (`cme.settle.YYYYMMDD.s.csv`, one row per instrument): columns
  `BizDt` (trade date), `Sym` (product), `SecTyp` (`FUT` rows are read, options skipped),
  `MMY` (maturity `202612`), `SettlePrice`, `PrevDayVol`, `PrevDayOI`. The layout is taken from
  public descriptions of those files (UNVERIFIED against a current file): the volume and
  open-interest columns are read as the file labels them.
Rows of other products (a settlement file covers all of CME) are counted as `other_product`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date
from functools import partial

from microservices.common.errors import BadMessage
from microservices.data_collector.exchanges.cme.contracts import (
    PRODUCTS,
    parse_contract,
    parse_mmy,
)
from microservices.data_collector.exchanges.cme.rows import RowChecker, SettlementRow, iso_date

SIMPLE_COLUMNS = ("trade_date", "contract", "settlement", "volume", "open_interest")
SETTLE_FILE_COLUMNS = ("BizDt", "Sym", "SecTyp", "MMY", "SettlePrice", "PrevDayVol", "PrevDayOI")


def read_rows(text: str, checker: RowChecker) -> list[SettlementRow]:
    """The checked rows of a CSV in either layout; BadMessage when the header is neither."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip() for name in reader.fieldnames or ()]
    reader.fieldnames = header
    if all(name in header for name in SIMPLE_COLUMNS):
        return _rows(_simple(reader, checker))
    if all(name in header for name in SETTLE_FILE_COLUMNS):
        return _rows(_settle_file(reader, checker))
    raise BadMessage(f"unknown CSV header {header[:8]!r}: expected {', '.join(SIMPLE_COLUMNS)}")


def _rows(rows: Iterable[SettlementRow | None]) -> list[SettlementRow]:
    return [row for row in rows if row is not None]


def _trade_date(value: object, checker: RowChecker, line: dict[str, str]) -> date | None:
    try:
        return iso_date(value)
    except BadMessage:
        checker.stats.reject("malformed", line)
        return None


def _simple(reader: csv.DictReader[str], checker: RowChecker) -> Iterable[SettlementRow | None]:
    for line in reader:
        day = _trade_date(line.get("trade_date"), checker, line)
        if day is None:
            continue
        name = line.get("contract") or ""
        values = (line.get("settlement"), line.get("volume"), line.get("open_interest"))
        yield checker.row(day, partial(parse_contract, name, day.year), values, line)


def _settle_file(
    reader: csv.DictReader[str], checker: RowChecker
) -> Iterable[SettlementRow | None]:
    for line in reader:
        product = (line.get("Sym") or "").strip().upper()
        if (line.get("SecTyp") or "").strip().upper() != "FUT" or product not in PRODUCTS:
            checker.stats.reject("other_product", line)
            continue
        day = _trade_date(line.get("BizDt"), checker, line)
        if day is None:
            continue
        mmy = line.get("MMY") or ""
        values = (line.get("SettlePrice"), line.get("PrevDayVol"), line.get("PrevDayOI"))
        yield checker.row(day, partial(parse_mmy, product, mmy), values, line)
