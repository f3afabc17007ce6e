"""The basis book (front months only, the larger contract of a group, newest trade date),
the basis fields of exchange.normalized, and the CME settings' validation."""

from __future__ import annotations

from typing import Any

import pytest

from microservices.common.derived_schemas import NORMALIZED
from microservices.common.errors import FatalError, SchemaError
from microservices.common.futures_basis import BasisBook, compute_basis
from microservices.common.records import NormalizedSnapshot, Settlement
from microservices.common.settings import load_settings
from microservices.data_collector import exchanges
from microservices.view import render

EXPIRY = 1_798_128_000_000  # BTC-CME-2026Z: Thu 24 Dec 2026 16:00 UTC
SETTLE = 1_796_158_800_000  # 1 Dec 2026 21:00 UTC (15:00 Chicago)


def settlement(product: str = "BTC", size: float = 5.0, day: str = "2026-12-01",
               front: bool = True, ref: float | None = 90_000.0, price: float = 91_000.0) -> Settlement:  # fmt: skip
    return Settlement("cme", "future", f"{product}-CME-2026Z", f"{product}Z6", "BTCUSDT", "USD",
                      SETTLE, SETTLE + 1, product, day, price, 1.0, 10.0, size, EXPIRY, True,
                      front, ref)  # fmt: skip


def test_formula_by_hand() -> None:
    basis = compute_basis("BTC-CME-2026Z", "2026-12-01", 91_000.0, 90_000.0, SETTLE, EXPIRY)
    # 22 days 19 hours to expiry; (91000 - 90000) / 90000 = 1.1111 %; x 365 / 22.7917
    assert basis.basis_usd == 1_000.0
    assert basis.days_to_expiry == pytest.approx(22 + 19 / 24)
    assert basis.basis_pct == pytest.approx(1.111111111)
    assert basis.basis_pct_annualised == pytest.approx(1.111111111 * 365 / (22 + 19 / 24))
    expired = compute_basis("BTC-CME-2026Z", "2026-12-24", 91_000.0, 90_000.0, EXPIRY, EXPIRY)
    assert expired.basis_pct_annualised is None


def test_book_keeps_the_front_of_the_larger_contract_and_the_newest_date() -> None:
    book = BasisBook()
    assert not book.apply(settlement(front=False))
    assert not book.apply(settlement(ref=None))
    assert book.apply(settlement("MBT", 0.1, price=91_005.0))
    assert book.apply(settlement())  # BTC (5 BTC) beats MBT (0.1 BTC) on the same date
    assert not book.apply(settlement("MBT", 0.1, price=91_010.0))
    assert not book.apply(settlement(day="2026-11-30", price=95_000.0))  # older: ignored
    held = book.get("BTCUSDT")
    assert held is not None and (held.contract, held.settlement) == ("BTC-CME-2026Z", 91_000.0)
    assert book.apply(settlement("MBT", 0.1, day="2026-12-02", price=92_000.0))
    assert book.get("ETHUSDT") is None


def snapshot(basis: Any) -> NormalizedSnapshot:
    return NormalizedSnapshot(symbol="BTCUSDT", ts_ms=SETTLE, avg_price=1.0, median_price=1.0,
                              price_divergence=0.0, exchange_divergence=0.0, funding_delta=0.0,
                              avg_funding_rate=0.0, volatility_factor=1.0, num_exchanges=0,
                              basis=basis)  # fmt: skip


def test_normalized_basis_fields_round_trip_and_fail_by_name() -> None:
    basis = compute_basis("BTC-CME-2026Z", "2026-12-01", 91_000.0, 90_000.0, SETTLE, EXPIRY)
    fields = NORMALIZED.encode(snapshot(basis))
    assert (fields["basis_contract"], fields["basis_usd"]) == ("BTC-CME-2026Z", "1000.0")
    decoded = NORMALIZED.decode(fields).basis
    assert decoded is not None and decoded.contract == basis.contract
    assert decoded.basis_pct_annualised == pytest.approx(basis.basis_pct_annualised, rel=1e-11)
    assert NORMALIZED.encode(snapshot(decoded)) == fields  # 12 significant digits, stable
    assert "basis_contract" not in NORMALIZED.encode(snapshot(None))
    with pytest.raises(SchemaError, match="basis_reference"):
        NORMALIZED.decode({**fields, "basis_reference": "-1"})
    with pytest.raises(SchemaError, match="basis_contract"):
        NORMALIZED.decode({**fields, "basis_contract": "btc cme"})


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"cme_products": "BTC,SOL"}, "cme_products"),
        ({"cme_poll_interval_s": 5}, "cme_poll_interval_s"),
        ({"cme_web_url": "ftp://cme"}, "cme_web_url"),
        ({"cme_groups": "BTC"}, "cme_groups"),
        ({"cme_product_ids": "BTC:0"}, "cme_product_ids"),
        ({"cme_reference_venues": "nowhere"}, "cme_reference_venues"),
        ({"cme_holidays": "2026-13-01"}, "cme_holidays"),
        ({"cme_source": "file"}, "CME_FILE"),
    ],
)
def test_bad_cme_settings_fail_at_start(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(FatalError, match=field.upper()):
        load_settings(env_file=None, **overrides)


def test_cme_is_a_polled_venue_not_a_live_one() -> None:
    settings = load_settings(env_file=None, cme_product_ids="ETH:9000", cme_groups="btc:btcusd")
    assert settings.cme_product_ids["ETH"] == 9000 and settings.cme_product_ids["BTC"] == 8478
    assert settings.cme_groups == {"BTC": "BTCUSD"}
    assert "cme" in exchanges.polled_venues() and "cme" not in exchanges.venue_ids()
    assert exchanges.polled_venues()["cme"].record_types == frozenset({"settlement"})


def test_terminal_view_shows_the_basis() -> None:
    basis = compute_basis("BTC-CME-2026Z", "2026-12-01", 91_000.0, 90_000.0, SETTLE, EXPIRY)
    text = render(["BTCUSDT"], {"BTCUSDT": snapshot(basis)}, {}, {})
    # (91000 - 90000) / 90000 x 100 x 365 / 22.79 = 17.79 % a year
    assert "BTC-CME-2026Z 2026-12-01 basis +1,000.00 USD (+17.79 %/y, 22.8 d)" in text
    assert "basis" not in render(["BTCUSDT"], {"BTCUSDT": snapshot(None)}, {}, {})
