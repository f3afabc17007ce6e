"""Dated futures' basis against the cross-venue spot reference (CME, issue 14). Pure.

For the front month's settlement F at settlement time t, the cross-venue reference price S
at t (the group's 1m close of the minute ending at t, carried by the `settlement` record as
`reference_price`) and the contract's expiry T:

    basis_usd                = F - S
    basis_pct                = (F - S) / S * 100
    days_to_expiry           = (T - t) / 86 400 000 ms
    basis_pct_annualised     = (F - S) / S * 100 * 365 / days_to_expiry

`basis_pct_annualised` is None when the contract expires at or before t (days <= 0).
`BasisBook` keeps each group's latest front-month basis for `exchange.normalized`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from microservices.common.errors import SchemaError
from microservices.common.records import FuturesBasis, Settlement
from microservices.common.schema_fields import SYMBOL_RE, encode_derived, parse_float, require

DAY_MS: Final = 86_400_000


def compute_basis(
    contract: str, trade_date: str, settlement: float, reference: float, settle_ms: int,
    expiry_ms: int,
) -> FuturesBasis:  # fmt: skip
    """The basis of one settlement (formulas in the module docstring)."""
    basis_usd = settlement - reference
    basis_pct = basis_usd / reference * 100.0
    days = (expiry_ms - settle_ms) / DAY_MS
    annualised = basis_pct * 365.0 / days if days > 0 else None
    return FuturesBasis(
        contract=contract, trade_date=trade_date, settlement=settlement, reference=reference,
        basis_usd=basis_usd, basis_pct=basis_pct, days_to_expiry=days,
        basis_pct_annualised=annualised,
    )  # fmt: skip


class BasisBook:
    """group -> its newest front-month basis. Of one trade date's front months in a group
    (BTC and MBT both compare with BTCUSDT) the larger contract wins; older trade dates and
    records without a reference price change nothing."""

    __slots__ = ("_best",)

    def __init__(self) -> None:
        self._best: dict[str, tuple[str, float, FuturesBasis]] = {}

    def apply(self, record: Settlement) -> bool:
        """Fold one settlement record; True when the group's basis changed."""
        if not record.front or record.reference_price is None:
            return False
        held = self._best.get(record.group)
        key = (record.trade_date, record.contract_size)
        if held is not None and key <= (held[0], held[1]):
            return False
        basis = compute_basis(record.symbol, record.trade_date, record.settlement,
                              record.reference_price, record.ts_ms, record.expiry_ms)  # fmt: skip
        self._best[record.group] = (record.trade_date, record.contract_size, basis)
        return True

    def get(self, group: str) -> FuturesBasis | None:
        held = self._best.get(group)
        return None if held is None else held[2]


# --- in `exchange.normalized`: `basis_*` fields, written only when the group has a basis
BASIS_FLOATS: Final = (
    "settlement", "reference", "basis_usd", "basis_pct", "days_to_expiry",
    "basis_pct_annualised",
)  # fmt: skip


def _wire(name: str) -> str:
    return name if name.startswith("basis_") else f"basis_{name}"


def encode_basis(basis: FuturesBasis | None) -> dict[str, str]:
    """`basis_contract`, `basis_trade_date`, `basis_settlement`, `basis_reference`,
    `basis_usd`, `basis_pct`, `basis_days_to_expiry`, `basis_pct_annualised`; {} without."""
    if basis is None:
        return {}
    out = {"basis_contract": basis.contract, "basis_trade_date": basis.trade_date}
    for name in BASIS_FLOATS:
        value = getattr(basis, name)
        if value is not None:
            out[_wire(name)] = encode_derived(value)
    return out


def decode_basis(entry: Mapping[str, str]) -> FuturesBasis | None:
    """The basis of a normalized entry (None when it has no `basis_contract`); SchemaError
    naming the field when one is malformed."""
    contract = entry.get("basis_contract", "")
    if not contract:
        return None
    if not SYMBOL_RE.match(contract):
        raise SchemaError(f"field 'basis_contract': not a canonical symbol: {contract[:40]!r}")

    def num(name: str, kind: str = "float") -> float:
        return parse_float(_wire(name), require(entry, _wire(name)), kind)

    annualised = entry.get("basis_pct_annualised", "")
    return FuturesBasis(
        contract=contract, trade_date=require(entry, "basis_trade_date"),
        settlement=num("settlement", "price"), reference=num("reference", "price"),
        basis_usd=num("basis_usd"), basis_pct=num("basis_pct"),
        days_to_expiry=num("days_to_expiry"),
        basis_pct_annualised=None if annualised == "" else num("basis_pct_annualised"),
    )  # fmt: skip
