"""CME contract names, codes and expiry dates (last Friday of the month, 16:00 London, moved
back over days that are not both a London and a US business day)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from microservices.common.errors import BadMessage
from microservices.data_collector.exchanges.cme.contracts import (
    PRODUCTS,
    ContractMonth,
    good_friday,
    parse_contract,
    parse_mmy,
    parse_month_label,
    settlement_ms,
)


def utc_ms(year: int, month: int, day: int, hour: int = 0) -> int:
    return int(datetime(year, month, day, hour, tzinfo=UTC).timestamp() * 1000)


def test_names_codes_and_contract_sizes() -> None:
    contract = ContractMonth("BTC", 2026, 12)
    assert (contract.name, contract.code) == ("BTC-CME-2026Z", "BTCZ6")
    assert ContractMonth("MET", 2027, 3).name == "MET-CME-2027H"
    sizes = {code: p.contract_size for code, p in PRODUCTS.items()}
    assert sizes == {"BTC": 5.0, "MBT": 0.1, "ETH": 50.0, "MET": 0.1}
    month_codes = [ContractMonth("BTC", 2026, m).name[-1] for m in range(1, 13)]
    assert "".join(month_codes) == "FGHJKMNQUVXZ"


@pytest.mark.parametrize(
    ("year", "month", "last_trade", "expiry_utc"),
    [
        (2026, 6, date(2026, 6, 26), (2026, 6, 26, 15)),  # BST: 16:00 London = 15:00 UTC
        (2026, 11, date(2026, 11, 27), (2026, 11, 27, 16)),  # GMT
        (2026, 12, date(2026, 12, 24), (2026, 12, 24, 16)),  # 25 Dec 2026 is a Friday
        (2025, 12, date(2025, 12, 24), (2025, 12, 24, 16)),  # Fri 26 Dec: Boxing Day (UK)
        (2027, 3, date(2027, 3, 25), (2027, 3, 25, 16)),  # Fri 26 Mar 2027: Good Friday
    ],
)
def test_expiry_is_the_last_common_business_friday(
    year: int, month: int, last_trade: date, expiry_utc: tuple[int, int, int, int]
) -> None:
    contract = ContractMonth("BTC", year, month)
    assert contract.last_trade_date() == last_trade
    assert contract.expiry_ms() == utc_ms(*expiry_utc)


def test_extra_holidays_move_the_last_trade_date_back() -> None:
    contract = ContractMonth("ETH", 2026, 11)
    assert contract.last_trade_date({date(2026, 11, 27)}) == date(2026, 11, 25)  # 26th closed


def test_good_friday_and_settlement_time() -> None:
    assert [good_friday(y) for y in (2026, 2027, 2028)] == [
        date(2026, 4, 3), date(2027, 3, 26), date(2028, 4, 14),
    ]  # fmt: skip
    assert settlement_ms(date(2026, 12, 1)) == utc_ms(2026, 12, 1, 21)  # 15:00 CST
    assert settlement_ms(date(2026, 7, 1)) == utc_ms(2026, 7, 1, 20)  # 15:00 CDT


def test_parsing_every_spelling() -> None:
    z6 = ContractMonth("BTC", 2026, 12)
    assert parse_contract("BTC-CME-2026Z", 2026) == z6
    assert parse_contract("btcz6", 2026) == z6
    assert parse_contract("BTCZ26", 2026) == z6
    assert parse_contract("BTCF7", 2026) == ContractMonth("BTC", 2027, 1)
    assert parse_month_label("BTC", "JLY 27", 2026) == ContractMonth("BTC", 2027, 7)
    assert parse_month_label("ETH", "DEC 26", 2026) == ContractMonth("ETH", 2026, 12)
    assert parse_mmy("MBT", "202703") == ContractMonth("MBT", 2027, 3)
    for bad in ("SOL-CME-2026Z", "BTC-CME-2026A", "", "BTC"):
        with pytest.raises(BadMessage):
            parse_contract(bad, 2026)
    with pytest.raises(BadMessage):
        parse_month_label("BTC", "Total", 2026)
    with pytest.raises(BadMessage):
        parse_mmy("BTC", "202613")
