"""The file importer on the repo's sample CSV (tests/fixtures/exchanges/cme/settlements_sample.csv), its faults,
the CME settlement-file layout, the product-page JSON, and the roll rule, worked by hand."""

from __future__ import annotations

from datetime import date

import pytest

from microservices.common.errors import BadMessage, TransientError
from microservices.common.market_alerts import MarketAlert
from microservices.common.records import Settlement
from microservices.data_collector.exchanges.cme.contracts import ContractMonth
from microservices.data_collector.exchanges.cme.files import read_rows
from microservices.data_collector.exchanges.cme.roll import RollTracker
from microservices.data_collector.exchanges.cme.rows import RowChecker, RowStats, SettlementRow
from microservices.data_collector.exchanges.cme.runtime import poll
from microservices.data_collector.exchanges.cme.service import SettlementFeed, poll_dates
from microservices.data_collector.exchanges.cme.settlements import CmeRules
from microservices.data_collector.exchanges.cme.source import FileSource
from microservices.data_collector.exchanges.cme.web import parse_settlements
from tests.fixture_paths import local_fixture

RULES = CmeRules()

SAMPLE = local_fixture("exchanges/cme/settlements_sample.csv")


def checker() -> RowChecker:
    return RowChecker(RowStats(), RULES.last_trade)


def test_sample_csv_rows_and_rejections() -> None:
    check = checker()
    rows = read_rows(SAMPLE.read_text(), check)
    assert len(rows) == 20
    assert check.stats.accepted == 20
    # BTC-CME-2026X traded its last on 27 Nov; SOL is no CME product here; "-" and a bad date
    assert check.stats.rejected == {"expired": 1, "unknown_contract": 1, "malformed": 2}
    assert "SOL-CME-2026Z" in check.stats.samples["unknown_contract"]
    first = rows[0]
    assert first == SettlementRow(date(2026, 11, 24), ContractMonth("BTC", 2026, 12),
                                  91250.0, 4100.0, 21000.0)  # fmt: skip
    by_code = [r for r in rows if r.trade_date == date(2026, 11, 27)][:2]
    assert [r.contract.name for r in by_code] == ["BTC-CME-2026Z", "BTC-CME-2027F"]


def test_unknown_header_is_refused() -> None:
    with pytest.raises(BadMessage, match="unknown CSV header"):
        read_rows("date,price\n2026-11-24,1\n", checker())


def test_cme_settlement_file_layout() -> None:
    text = (
        "BizDt,Sym,ID,SecTyp,MMY,SettlePrice,PrevDayVol,PrevDayOI\n"
        '2026-12-01,BTC,BTC,FUT,202612,"91,105",2500,14100\n'
        "2026-12-01,BTC,BTC,OOF,202612,1200,10,10\n"
        "2026-12-01,ES,ES,FUT,202612,6000,1,1\n"
        "2026-12-01,MET,MET,FUT,202701,3026.5,180,2400\n"
    )
    check = checker()
    rows = read_rows(text, check)
    assert [(r.contract.name, r.settlement, r.open_interest) for r in rows] == [
        ("BTC-CME-2026Z", 91105.0, 14100.0), ("MET-CME-2027F", 3026.5, 2400.0),
    ]  # fmt: skip
    assert check.stats.rejected == {"other_product": 2}
    assert "other_product" not in check.stats.samples  # quiet: never sampled


def test_product_page_json() -> None:
    payload = {"tradeDate": "12/01/2026", "settlements": [
        {"month": "DEC 26", "settle": "91,105", "volume": "2,500", "openInterest": "14,100"},
        {"month": "JAN 27", "settle": "-", "volume": "0", "openInterest": "0"},
        {"month": "NOV 26", "settle": "90,000", "volume": "0", "openInterest": "0"},
        "garbage",
        {"month": "Total", "settle": "", "volume": "5,100", "openInterest": "30,000"},
    ]}  # fmt: skip
    check = checker()
    rows = parse_settlements("BTC", date(2026, 12, 1), payload, check)
    assert [(r.contract.name, r.settlement, r.volume) for r in rows] == [
        ("BTC-CME-2026Z", 91105.0, 2500.0)
    ]
    assert check.stats.rejected == {"malformed": 2, "expired": 1}
    with pytest.raises(BadMessage):
        parse_settlements("BTC", date(2026, 12, 1), {"message": "blocked"}, check)


def row(day: date, month: tuple[int, int], oi: float) -> SettlementRow:
    return SettlementRow(day, ContractMonth("BTC", *month), 90_000.0, 1.0, oi)


def test_roll_on_open_interest_and_on_expiry() -> None:
    tracker = RollTracker(5, RULES.last_trade)
    z, f = (2026, 12), (2027, 1)
    front, roll = tracker.update(
        "BTC", [row(date(2026, 12, 1), z, 100), row(date(2026, 12, 1), f, 90)]
    )
    assert (front is not None and front.contract.name, roll) == ("BTC-CME-2026Z", None)
    front, roll = tracker.update(
        "BTC", [row(date(2026, 12, 2), z, 80), row(date(2026, 12, 2), f, 95)]
    )
    assert roll is not None and (roll.reason, roll.new.contract.name) == (
        "open_interest",
        "BTC-CME-2027F",
    )
    # the front never goes back, whatever the old month's open interest does
    front, roll = tracker.update(
        "BTC", [row(date(2026, 12, 3), z, 500), row(date(2026, 12, 3), f, 95)]
    )
    assert (front is not None and front.contract.name, roll) == ("BTC-CME-2027F", None)
    # expiry: 5 days before 29 Jan 2027 (last trade) the front moves on, open interest or not
    late = RollTracker(5, RULES.last_trade)
    late.fronts["BTC"] = ContractMonth("BTC", 2027, 1)
    front, roll = late.update(
        "BTC", [row(date(2027, 1, 25), f, 900), row(date(2027, 1, 25), (2027, 2), 10)]
    )
    assert roll is not None and (roll.reason, roll.new.contract.name) == ("expiry", "BTC-CME-2027G")
    assert roll.old is not None and roll.old.open_interest == 900


def test_poll_dates_are_recent_weekdays_after_the_last_read() -> None:
    assert poll_dates(date(2026, 12, 7), 5, None) == [
        date(2026, 12, 2),
        date(2026, 12, 3),
        date(2026, 12, 4),
    ]
    assert poll_dates(date(2026, 12, 7), 5, date(2026, 12, 3)) == [date(2026, 12, 4)]


async def test_file_import_feed_counts_the_holiday_and_raises_one_roll() -> None:
    published: list[tuple[list[Settlement], list[MarketAlert]]] = []

    async def publish(records: list[Settlement], alerts: list[MarketAlert]) -> None:
        published.append((records, alerts))

    source = FileSource(SAMPLE)
    feed = SettlementFeed(source, RULES, None, publish)
    outcomes = [await feed.read_day(day, 1_796_000_000_000) for day in source.dates(feed.checker)]
    assert [(o.trade_date.day, o.outcome) for o in outcomes] == [
        (24, "ok"), (25, "ok"), (26, "holiday"), (27, "ok"), (30, "ok"), (1, "ok"),
    ]  # fmt: skip
    assert feed.stats.rejected == {
        "expired": 1,
        "unknown_contract": 1,
        "malformed": 2,
        "holiday": 1,
    }
    records = [r for recs, _ in published for r in recs]
    alerts = [a for _, alts in published for a in alts]
    assert len(records) == 20 and all(r.delayed and r.reference_price is None for r in records)
    assert [a.data["to"] for a in alerts] == ["BTC-CME-2027F"]
    assert alerts[0].data["from_open_interest"] == 14100.0 and alerts[0].symbol == "BTCUSDT"
    fronts = {(r.trade_date, r.product): r.symbol for r in records if r.front}
    assert fronts[("2026-11-30", "BTC")] == "BTC-CME-2026Z"
    assert fronts[("2026-12-01", "BTC")] == "BTC-CME-2027F"
    assert fronts[("2026-12-01", "ETH")] == "ETH-CME-2026Z"


class FlakySource:
    """Rows for every date but those in `fail`, which raise TransientError."""

    name = "flaky"

    def __init__(self) -> None:
        self.fail = {date(2026, 12, 2)}

    async def rows(self, trade_date: date, checker: RowChecker) -> list[SettlementRow]:
        if trade_date in self.fail:
            raise TransientError("cme: HTTP 503")
        return [SettlementRow(trade_date, ContractMonth("BTC", 2026, 12), 90_000.0, 1.0, 10.0)]


async def test_a_failed_date_ends_the_poll_and_is_asked_again_first() -> None:
    async def publish(records: list[Settlement], alerts: list[MarketAlert]) -> None:
        return None

    source = FlakySource()
    feed = SettlementFeed(source, RULES, None, publish)
    first = await poll(feed, date(2026, 12, 5), 4)  # weekdays 1..4 December
    assert [(o.trade_date.day, o.outcome) for o in first] == [(1, "ok"), (2, "failed")]
    source.fail.clear()
    again = await poll(feed, date(2026, 12, 5), 4)
    assert [(o.trade_date.day, o.outcome) for o in again] == [(2, "ok"), (3, "ok"), (4, "ok")]
    assert feed.health(0)["days"] == {"ok": 4, "failed": 1}
