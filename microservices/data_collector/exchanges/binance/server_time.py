"""Binance server time: spot `GET /api/v3/time`, USDⓈ-M `GET /fapi/v1/time` (weight 1). Pure."""

from __future__ import annotations

from typing import Any, Final

from microservices.common.errors import BadMessage
from microservices.data_collector.exchanges._server_time import field, server_ms
from microservices.data_collector.exchanges.package import ServerTime


def parse_server_time(payload: Any) -> float:
    """`{"serverTime": <epoch ms, integer>}` -> epoch ms; BadMessage otherwise."""
    value = field(payload, "serverTime")
    if type(value) is not int:
        raise BadMessage(f"bad serverTime {value!r}")
    return server_ms(value)


SPOT_TIME: Final = ServerTime("/api/v3/time", parse_server_time)
FUTURES_TIME: Final = ServerTime("/fapi/v1/time", parse_server_time)
