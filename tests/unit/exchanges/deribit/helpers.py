"""Deribit test helpers: `LinearFirst`, the venue with the default contract order, for tests
of the USDC-margined linear perpetuals (the repo's own frames, the simulator's linear books)
that follow a group without a listing (the naming rule picks the inverse BTC-PERPETUAL,
Deribit's primary instrument)."""

from __future__ import annotations

from typing import ClassVar

from microservices.common.catalog import DEFAULT_CONTRACT_ORDER
from microservices.data_collector.exchanges.deribit.exchange import Deribit


class LinearFirst(Deribit):
    contract_order: ClassVar[tuple[str, ...]] = DEFAULT_CONTRACT_ORDER
