"""Gate.io server time: `GET /spot/time` (spot and futures share the host). Pure.

The answer is `{"server_time": 1597026383085}`, epoch milliseconds.
"""

from __future__ import annotations

from typing import Any, Final

from microservices.common.errors import BadMessage
from microservices.data_collector.exchanges._server_time import field, server_ms
from microservices.data_collector.exchanges.package import ServerTime


def parse_server_time(payload: Any) -> float:
    """Epoch ms from `server_time` (a JSON integer)."""
    value = field(payload, "server_time")
    if type(value) is not int:
        raise BadMessage(f"bad server_time {value!r}")
    return server_ms(value)


SERVER_TIME: Final = ServerTime("/spot/time", parse_server_time)
