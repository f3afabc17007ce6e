"""Deribit server time: `GET /api/v2/public/get_time`, answering `{"jsonrpc": "2.0",
"result": <epoch ms>, ...}` (a JSON-RPC `error` is refused). Pure."""

from __future__ import annotations

from typing import Any, Final

from microservices.common.errors import BadMessage
from microservices.data_collector.exchanges._server_time import field, server_ms
from microservices.data_collector.exchanges.package import ServerTime


def parse_server_time(payload: Any) -> float:
    """Epoch ms of `result` (an integer of milliseconds)."""
    if isinstance(payload, dict) and payload.get("error") is not None:
        raise BadMessage(f"deribit error {payload['error']!r}")
    result = field(payload, "result")
    if type(result) is not int:
        raise BadMessage(f"bad server time {result!r}")
    return server_ms(result)


SERVER_TIME: Final = ServerTime("/api/v2/public/get_time", parse_server_time)
