"""The CME settlement simulator: deterministic settlement days served like CME's product
pages (`web.py` shape) and as simple CSV files (`files.py` layout).

`SettlementSim` is pure: for each weekday that is not a holiday it lists the product's next
`listed` contract months, each settling at the spot path's price at settlement time times
(1 + `annual_basis` x days to expiry / 365), rounded to the product's tick. Open interest
moves from the front month to the next one as expiry nears (`open_interest`), so the front
month rolls on open interest some 12 days before its last trade. A holiday has no settlement:
its JSON has an empty `settlements` list, its CSV a header only. `malformed=True` adds a row
without settlement and one of an unknown month to every day (fault tests).
`app(sim)` serves it under `/cme` (`cross-exchange cme simulate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from aiohttp import web

from microservices.common.errors import BadMessage
from microservices.data_collector.exchanges.cme.contracts import (
    DAY_MS,
    PRODUCTS,
    ContractMonth,
    settlement_ms,
)
from microservices.data_collector.exchanges.cme.files import SIMPLE_COLUMNS
from microservices.data_collector.exchanges.cme.rows import iso_date
from microservices.data_collector.exchanges.cme.web import DEFAULT_PRODUCT_IDS, SETTLEMENTS_PATH

PREFIX: Final = "/cme"
MONTH_LABELS: Final = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JLY", "AUG", "SEP", "OCT",
                       "NOV", "DEC")  # fmt: skip
TICKS: Final = {"BTC": 5.0, "MBT": 5.0, "ETH": 0.5, "MET": 0.5}
BASE_OI: Final = {"BTC": 20_000.0, "MBT": 60_000.0, "ETH": 9_000.0, "MET": 40_000.0}
SPOT: Final = {"BTC": 90_000.0, "ETH": 3_000.0}


@dataclass(frozen=True, slots=True)
class SimRow:
    contract: ContractMonth
    settlement: float
    volume: float
    open_interest: float


@dataclass(slots=True)
class SettlementSim:
    holidays: frozenset[date] = frozenset()
    annual_basis: float = 0.08  # 8 % a year of contango
    listed: int = 3
    malformed: bool = False
    product_ids: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PRODUCT_IDS))

    def spot_at(self, base: str, ts_ms: int) -> float:
        """The simulated cross-venue spot price: a slow wave around SPOT[base]."""
        days = ts_ms / DAY_MS
        return round(SPOT[base] * (1.0 + 0.05 * math.sin(days / 9.0)), 2)

    def contracts(self, product: str, trade_date: date) -> list[ContractMonth]:
        out: list[ContractMonth] = []
        year, month = trade_date.year, trade_date.month
        while len(out) < self.listed:
            contract = ContractMonth(product, year, month)
            if contract.last_trade_date(self.holidays) >= trade_date:
                out.append(contract)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out

    def open_interest(self, product: str, days_left: int) -> float:
        """Front months lose open interest over their last 20 days; later ones gain it."""
        base = BASE_OI[product]
        weight = days_left / 20 if days_left <= 20 else max(0.1, 1 - (days_left - 20) / 60)
        return round(base * weight, 0)

    def day(self, product: str, trade_date: date) -> list[SimRow]:
        """One product's settlements of one trade date ([] on weekends and holidays)."""
        if trade_date.weekday() >= 5 or trade_date in self.holidays:
            return []
        settle_ms = settlement_ms(trade_date)
        spot = self.spot_at(PRODUCTS[product].base, settle_ms)
        rows = []
        for contract in self.contracts(product, trade_date):
            days = (contract.expiry_ms(self.holidays) - settle_ms) / DAY_MS
            tick = TICKS[product]
            price = round(spot * (1 + self.annual_basis * days / 365) / tick) * tick
            days_left = (contract.last_trade_date(self.holidays) - trade_date).days
            oi = self.open_interest(product, days_left)
            rows.append(SimRow(contract, price, round(oi * 0.1, 0), oi))
        return rows

    def json_day(self, product: str, trade_date: date) -> dict[str, Any]:
        items: list[dict[str, str]] = [
            {"month": f"{MONTH_LABELS[r.contract.month - 1]} {r.contract.year % 100:02d}",
             "open": "-", "high": "-", "low": "-", "last": "-", "change": "-",
             "settle": f"{r.settlement:,.2f}", "volume": f"{r.volume:,.0f}",
             "openInterest": f"{r.open_interest:,.0f}"}
            for r in self.day(product, trade_date)
        ]  # fmt: skip
        if items:
            if self.malformed:
                items.append({"month": "ABC 26", "settle": "1", "volume": "1", "openInterest": "1"})
                items.append({**items[0], "settle": "-"})
            items.append({"month": "Total", "settle": "", "volume": "", "openInterest": ""})
        return {
            "tradeDate": trade_date.strftime("%m/%d/%Y"),
            "settlements": items,
            "empty": not items,
        }

    def csv_day(self, trade_date: date) -> str:
        lines = [",".join(SIMPLE_COLUMNS)]
        for product in PRODUCTS:
            for r in self.day(product, trade_date):
                lines.append(f"{trade_date.isoformat()},{r.contract.name},{r.settlement},"
                             f"{r.volume:.0f},{r.open_interest:.0f}")  # fmt: skip
        return "\n".join(lines) + "\n"


def app(sim: SettlementSim) -> web.Application:
    """The routes on their own (`cross-exchange cme simulate`)."""
    application = web.Application()
    application.add_routes(routes(sim))
    return application


def routes(sim: SettlementSim | None = None) -> list[web.RouteDef]:
    """`GET /cme/CmeWS/mvc/Settlements/Futures/Settlements/{id}/FUT?tradeDate=MM/DD/YYYY`
    and `GET /cme/settle/{YYYYMMDD}.csv`; the exchange simulator serves them with the default
    `SettlementSim` (the registry's `polled_simulators`)."""
    served = sim or SettlementSim()
    products = {pid: product for product, pid in served.product_ids.items()}

    async def settlements(request: web.Request) -> web.Response:
        product = products.get(int(request.match_info["product_id"]))
        try:
            day = iso_date(request.query.get("tradeDate", ""))
        except BadMessage:
            return web.json_response({"message": "bad tradeDate"}, status=400)
        if product is None:
            return web.json_response({"message": "unknown product"}, status=404)
        return web.json_response(served.json_day(product, day))

    async def settle_file(request: web.Request) -> web.Response:
        try:
            day = iso_date(request.match_info["day"])
        except BadMessage:
            return web.Response(status=404)
        return web.Response(text=served.csv_day(day), content_type="text/csv")

    path = PREFIX + SETTLEMENTS_PATH.replace("{product_id}", "{product_id:[0-9]+}")
    csv_path = PREFIX + "/settle/{day:[0-9]{8}}.csv"
    return [web.get(path, settlements), web.get(csv_path, settle_file)]
