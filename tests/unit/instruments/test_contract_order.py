"""The primary rule's per-venue contract order (`Catalog(contract_order=...)`): by default a
venue follows its linear perpetual; a venue that puts "inverse" first (Deribit) follows the
inverse one; a trading instrument still beats a halted one; a refreshed venue keeps the order."""

from __future__ import annotations

from microservices.common.catalog import Catalog, primary_rank
from microservices.common.instruments import Instrument, make_instrument


def perp(venue_symbol: str, quote: str, inverse: bool, status: str = "trading") -> Instrument:
    return make_instrument(venue="x", venue_symbol=venue_symbol, base="BTC", quote=quote,
                           market="perpetual", inverse=inverse, status=status)  # fmt: skip


LINEAR, INVERSE = perp("BTC_USDC-PERP", "USDC", False), perp("BTC-PERP", "USD", True)


def test_default_order_is_linear_first() -> None:
    catalog = Catalog([INVERSE, LINEAR])
    primary = catalog.primary("x", "BTCUSDT")
    assert primary is not None and primary.venue_symbol == "BTC_USDC-PERP"


def test_a_venue_may_put_inverse_first() -> None:
    catalog = Catalog([LINEAR, INVERSE], contract_order={"x": ("inverse", "linear")})
    primary = catalog.primary("x", "BTCUSDT")
    assert primary is not None and primary.venue_symbol == "BTC-PERP"
    refreshed = catalog.with_venue("x", [LINEAR, INVERSE])
    assert refreshed.contract_order == {"x": ("inverse", "linear")}
    again = refreshed.primary("x", "BTCUSDT")
    assert again is not None and again.venue_symbol == "BTC-PERP"


def test_status_still_comes_first() -> None:
    halted = perp("BTC-PERP", "USD", True, status="halted")
    catalog = Catalog([LINEAR, halted], contract_order={"x": ("inverse", "linear")})
    primary = catalog.primary("x", "BTCUSDT")
    assert primary is not None and primary.venue_symbol == "BTC_USDC-PERP"
    order = ("inverse", "linear")
    assert primary_rank(INVERSE, contract_order=order) < primary_rank(LINEAR, contract_order=order)
