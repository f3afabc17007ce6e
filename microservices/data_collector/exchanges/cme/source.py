"""Where settlement rows come from: a small plug-in interface and its implementations.

- `FileSource`: one CSV (simple layout or CME's settlement file, `files.py`), all its dates;
- `WebSource`: CME's product-page JSON (`web.py`; UNVERIFIED, see there), one request per
  product and trade date; pointed at the CME simulator (`simulator.py`) in tests and demos.
Both return the rows of the trade dates asked for; a date with no rows at all is a day without
settlement (a holiday), counted by the caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Protocol

import aiohttp

from microservices.common.errors import BadMessage, TransientError
from microservices.data_collector.exchanges.cme.files import read_rows
from microservices.data_collector.exchanges.cme.rows import RowChecker, SettlementRow
from microservices.data_collector.exchanges.cme.web import parse_settlements, settlements_request


class SettlementSource(Protocol):
    name: str

    async def rows(self, trade_date: date, checker: RowChecker) -> list[SettlementRow]:
        """Checked rows of one trade date ([] when it has none); TransientError when the
        source cannot be read now."""
        ...


class FileSource:
    """Rows of one CSV file, read once (BadMessage on an unknown header)."""

    name = "file"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._rows: list[SettlementRow] | None = None

    def all_rows(self, checker: RowChecker) -> list[SettlementRow]:
        if self._rows is None:
            try:
                text = self.path.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as exc:
                raise BadMessage(f"cannot read {self.path}: {exc}") from None
            self._rows = read_rows(text, checker)
        return self._rows

    def dates(self, checker: RowChecker) -> list[date]:
        """Every weekday from the file's first trade date to its last: a weekday without
        rows is a day without settlement (a holiday) to the caller."""
        days = sorted({row.trade_date for row in self.all_rows(checker)})
        if not days:
            return []
        span = (days[-1] - days[0]).days
        every = (days[0] + timedelta(days=n) for n in range(span + 1))
        return [day for day in every if day.weekday() < 5]

    async def rows(self, trade_date: date, checker: RowChecker) -> list[SettlementRow]:
        return [row for row in self.all_rows(checker) if row.trade_date == trade_date]


class WebSource:
    """CME's product-page settlements JSON under `base_url` (UNVERIFIED, `web.py`)."""

    name = "web"

    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, product_ids: Mapping[str, int],
        products: Iterable[str], timeout_s: float = 10.0,
    ) -> None:  # fmt: skip
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.base_url = base_url.rstrip("/")
        self.product_ids = dict(product_ids)
        self.products = tuple(products)

    async def rows(self, trade_date: date, checker: RowChecker) -> list[SettlementRow]:
        out: list[SettlementRow] = []
        for product in self.products:
            path, query = settlements_request(self.product_ids[product], trade_date)
            payload = await self._get(self.base_url + path, query)
            out.extend(parse_settlements(product, trade_date, payload, checker))
        return out

    async def _get(self, url: str, query: dict[str, str]) -> object:
        headers = {"Accept": "application/json"}
        try:
            async with self.session.get(
                url, params=query, headers=headers, timeout=self.timeout
            ) as response:
                if response.status != 200:
                    raise TransientError(f"cme: HTTP {response.status} from {url}")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise TransientError(f"cme: {type(exc).__name__} from {url}") from None
