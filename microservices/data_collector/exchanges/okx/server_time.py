"""OKX server time: `GET /api/v5/public/time` (swap and spot share it). Pure.

The answer is the v5 envelope with `data: [{"ts": "<epoch ms>"}]`; a non-zero `code` is
refused before (`Exchange.check_rest_payload`) and here.
"""

from __future__ import annotations

from typing import Any, Final

from microservices.common.errors import BadMessage
from microservices.data_collector.exchanges._server_time import field, server_ms
from microservices.data_collector.exchanges.package import ServerTime


def parse_server_time(payload: Any) -> float:
    """Epoch ms of `data[0].ts`; BadMessage otherwise."""
    if field(payload, "code") != "0":
        raise BadMessage(f"okx error {payload.get('code')!r}: {payload.get('msg')!r}")
    rows = field(payload, "data")
    if not isinstance(rows, list) or len(rows) != 1 or not isinstance(rows[0], dict):
        raise BadMessage("okx server time without one data row")
    value = rows[0].get("ts")
    if type(value) is not str or not value.isdigit():
        raise BadMessage(f"bad ts {value!r}")
    return server_ms(value)


SERVER_TIME: Final = ServerTime("/api/v5/public/time", parse_server_time)
