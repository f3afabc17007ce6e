"""KuCoin server time: `GET /api/v1/timestamp` on the spot and the futures REST hosts (the
same answer, `{"code": "200000", "data": <epoch ms>}`). Pure."""

from __future__ import annotations

from typing import Any, Final

from microservices.common.errors import BadMessage
from microservices.data_collector.exchanges._server_time import field, server_ms
from microservices.data_collector.exchanges.package import ServerTime

OK: Final = "200000"


def parse_server_time(payload: Any) -> float:
    """Epoch ms of `data`; BadMessage for an error code or a value out of range."""
    if field(payload, "code") != OK:
        raise BadMessage(f"kucoin error {payload.get('code')!r}: {payload.get('msg')!r}")
    return server_ms(field(payload, "data"))


SERVER_TIME: Final = ServerTime("/api/v1/timestamp", parse_server_time, weight=3)
