"""The registry imports exchange packages on first use: one venue's class imports only the
package its id names, and every list still comes out whole and in registration order."""

from __future__ import annotations

import subprocess
import sys

import pytest

from microservices.data_collector import exchanges
from microservices.data_collector.exchanges.okx import PACKAGE as OKX
from microservices.data_collector.exchanges.package import ExchangePackage
from microservices.data_collector.exchanges.package_registry import PackageRegistry

PROBE = """
import sys
from microservices.data_collector.exchanges import EXCHANGES
cls = EXCHANGES[{venue!r}]
print(cls.__module__)
print(",".join(sorted(m.split(".")[3] for m in sys.modules
      if m.startswith("microservices.data_collector.exchanges.") and m.count(".") >= 4)))
"""


def imported_packages(venue: str) -> tuple[str, set[str]]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(venue=venue)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    module, packages = out.splitlines()
    return module, set(packages.split(","))


def test_one_venue_imports_its_package_alone() -> None:
    module, packages = imported_packages("okx_spot")
    assert module.startswith("microservices.data_collector.exchanges.okx.")
    assert packages == {"okx"}


def test_lists_load_every_package_in_registration_order() -> None:
    loads: list[str] = []

    def load(name: str) -> ExchangePackage:
        loads.append(name)
        return {"okx": OKX}.get(name) or exchanges.REGISTRY.package(name)

    registry = PackageRegistry(("binance", "okx", "coinbase"), load)
    assert registry.exchange("okx_spot") is OKX.venues[1].exchange
    assert loads == ["okx"]  # the one package the id names
    assert list(registry.venues()) == ["binance", "binance_futures", "okx", "okx_spot",
                                       "coinbase"]  # fmt: skip
    assert loads == ["okx", "binance", "coinbase"]  # okx was not imported twice
    with pytest.raises(KeyError):
        registry.exchange("okx_options")
    assert "okx_options" not in registry.exchanges()
