"""OKX test exchanges: with the catalog of the repo's docs-shaped listings (BTC-USDT-SWAP at
0.01 BTC a contract, ETH-USDT-SWAP 0.1 ETH, BTC-USD-SWAP 100 USD) or the naming rule."""

from __future__ import annotations

from microservices.common.catalog import Catalog
from microservices.data_collector.exchanges.okx.exchange import Okx, OkxSpot
from microservices.data_collector.exchanges.okx.listing import parse_instruments
from tests.fixture_paths import local_fixture

RECV_MS = 1_700_000_001_000


def listed(venue: str = "okx", symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")) -> Okx:
    """The venue's Exchange over its listing fixture."""
    if venue == "okx":
        body = local_fixture("exchanges/okx/rest_instruments_swap.json").read_bytes()
        instruments = parse_instruments(body, "okx", "SWAP").instruments
        cls: type[Okx] = Okx
    else:
        body = local_fixture("exchanges/okx_spot/rest_instruments_spot.json").read_bytes()
        instruments = parse_instruments(body, "okx_spot", "SPOT").instruments
        cls = OkxSpot
    catalog = Catalog(instruments, quote_order={venue: cls.quote_order}, listed=[venue])
    return cls(symbols, "wss://ws.okx.com:8443", "https://www.okx.com", catalog)
