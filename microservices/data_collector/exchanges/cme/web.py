"""CME's delayed settlement JSON on its product pages: request and answer. Pure.

UNVERIFIED: this is not an official API and cannot be reached from where this was written.
The path and the answer's shape are as public scripts use them (the settlements tab of a
product page, e.g. cmegroup.com/markets/cryptocurrencies/bitcoin/bitcoin.settlements.html):

    GET /CmeWS/mvc/Settlements/Futures/Settlements/{product id}/FUT
        ?strategy=DEFAULT&tradeDate=MM/DD/YYYY&pageSize=500
    {"tradeDate": "12/04/2026", "settlements": [{"month": "DEC 26", "open": "-", ...,
     "settle": "97,125", "volume": "1,234", "openInterest": "5,678"}, ..., {"month": "Total",
     ...}]}

An empty `settlements` list is a day without settlement (a holiday, or not published yet).
CME's website terms of use govern this data (delayed, display only): check them before use.
Product ids: Bitcoin 8478 appears in public scripts; the others are UNVERIFIED defaults that
the setting CME_PRODUCT_IDS overrides.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import partial
from typing import Any, Final

from microservices.common.errors import BadMessage
from microservices.data_collector.exchanges.cme.contracts import parse_month_label
from microservices.data_collector.exchanges.cme.rows import RowChecker, SettlementRow

SETTLEMENTS_PATH: Final = "/CmeWS/mvc/Settlements/Futures/Settlements/{product_id}/FUT"
DEFAULT_PRODUCT_IDS: Final = {"BTC": 8478, "MBT": 9024, "ETH": 8995, "MET": 9027}
SUMMARY_ROWS: Final = frozenset({"TOTAL", ""})


def settlements_request(product_id: int, trade_date: date) -> tuple[str, dict[str, str]]:
    """(path, query) of one product's settlements on one trade date."""
    query = {"strategy": "DEFAULT", "tradeDate": trade_date.strftime("%m/%d/%Y"),
             "pageSize": "500"}  # fmt: skip
    return SETTLEMENTS_PATH.format(product_id=product_id), query


def parse_settlements(
    product: str, trade_date: date, payload: Any, checker: RowChecker
) -> list[SettlementRow]:
    """Checked rows of one answer; BadMessage when it is not the expected object. Rows
    without a settlement (`settle` of `-`, a month not traded) are malformed."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("settlements"), list):
        raise BadMessage("cme: answer has no settlements list")
    rows: list[SettlementRow] = []
    for item in payload["settlements"]:
        if not isinstance(item, Mapping):
            checker.stats.reject("malformed", item)
            continue
        label = str(item.get("month") or "")
        if label.strip().upper() in SUMMARY_ROWS:
            continue
        values = (item.get("settle"), item.get("volume"), item.get("openInterest"))
        contract = partial(parse_month_label, product, label, trade_date.year)
        row = checker.row(trade_date, contract, values, item)
        if row is not None:
            rows.append(row)
    return rows
