"""Coinbase Exchange server time: `GET /time`. Pure.

The answer is `{"iso": "2015-01-07T23:47:25.201Z", "epoch": 1420674445.201}`: `epoch` in
decimal seconds (preferred), `iso` the same instant in ISO 8601.
"""

from __future__ import annotations

from typing import Any, Final

from microservices.common.clock import parse_iso_ms
from microservices.common.errors import BadMessage
from microservices.data_collector.exchanges._server_time import field, server_ms
from microservices.data_collector.exchanges.package import ServerTime


def parse_server_time(payload: Any) -> float:
    """Epoch ms from `epoch` (seconds, a JSON number), else from `iso`."""
    epoch = payload.get("epoch") if isinstance(payload, dict) else None
    if epoch is not None:
        if type(epoch) not in (int, float):
            raise BadMessage(f"bad epoch {epoch!r}")
        return server_ms(epoch, 1_000.0)
    iso = field(payload, "iso")
    try:
        return server_ms(parse_iso_ms(iso))
    except (TypeError, ValueError, AttributeError):
        raise BadMessage(f"bad iso time {iso!r}") from None


SERVER_TIME: Final = ServerTime("/time", parse_server_time)
