"""Bybit server time: `GET /v5/market/time` (spot and linear share it). Pure.

The answer is the v5 envelope, `result: {timeSecond, timeNano}` as strings of seconds and
nanoseconds, and the envelope's own `time` in ms; the most precise one present wins. A
non-zero `retCode` is refused before (`Exchange.check_rest_payload`) and here.
"""

from __future__ import annotations

from typing import Any, Final

from microservices.common.errors import BadMessage
from microservices.data_collector.exchanges._server_time import field, server_ms
from microservices.data_collector.exchanges.package import ServerTime


def parse_server_time(payload: Any) -> float:
    """Epoch ms from `result.timeNano`, else the envelope's `time`, else `result.timeSecond`."""
    if field(payload, "retCode") != 0:
        raise BadMessage(f"bybit error {payload.get('retCode')!r}: {payload.get('retMsg')!r}")
    result = field(payload, "result")
    if isinstance(result, dict) and result.get("timeNano") not in (None, ""):
        nanos = result["timeNano"]
        if type(nanos) is not str or not nanos.isdigit():
            raise BadMessage(f"bad timeNano {nanos!r}")
        return server_ms(int(nanos) // 1_000 / 1_000)  # whole microseconds, exactly
    if payload.get("time") is not None:
        return server_ms(payload["time"])
    return server_ms(field(payload, "result", "timeSecond"), 1_000.0)


SERVER_TIME: Final = ServerTime("/v5/market/time", parse_server_time)
