"""Futures basis against the cross-venue spot reference. Pure.

For the front month's settlement F at settlement time t, the cross-venue reference price S
at t (the group's 1m close of the minute ending at t) and the contract's expiry T:

    basis_usd                = F - S
    basis_pct                = (F - S) / S * 100
    days_to_expiry           = (T - t) / 86 400 000 ms
    basis_pct_annualised     = (F - S) / S * 100 * 365 / days_to_expiry

`basis_pct_annualised` is None when the contract expires at or before t (days <= 0).
"""

from __future__ import annotations

from dataclasses import dataclass

from microservices.data_collector.exchanges.cme.contracts import DAY_MS


@dataclass(frozen=True, slots=True)
class Basis:
    contract: str  # canonical name of the front month
    settlement: float  # F
    reference: float  # S
    basis_usd: float
    basis_pct: float
    days_to_expiry: float
    basis_pct_annualised: float | None


def compute_basis(
    contract: str, settlement: float, reference: float, settle_ms: int, expiry_ms: int
) -> Basis:
    """The basis of one settlement (see the module docstring for the formulas)."""
    basis_usd = settlement - reference
    basis_pct = basis_usd / reference * 100.0
    days = (expiry_ms - settle_ms) / DAY_MS
    annualised = basis_pct * 365.0 / days if days > 0 else None
    return Basis(contract, settlement, reference, basis_usd, basis_pct, days, annualised)
