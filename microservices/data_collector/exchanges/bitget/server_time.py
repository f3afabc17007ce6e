"""Bitget server time: `GET /api/v2/public/time` (spot and futures share it). Pure.

The answer is the v2 envelope, `data: {serverTime}` as a string of epoch ms; the envelope's
`requestTime` (ms) is the fallback. A code other than "00000" is refused before
(`Exchange.check_rest_payload`) and here.
"""

from __future__ import annotations

from typing import Any, Final

from microservices.common.errors import BadMessage
from microservices.data_collector.exchanges._server_time import field, server_ms
from microservices.data_collector.exchanges.bitget.listing import OK
from microservices.data_collector.exchanges.package import ServerTime


def parse_server_time(payload: Any) -> float:
    """Epoch ms from `data.serverTime`, else the envelope's `requestTime`."""
    if field(payload, "code") != OK:
        raise BadMessage(f"bitget error {payload.get('code')!r}: {payload.get('msg')!r}")
    data = payload.get("data")
    if isinstance(data, dict) and data.get("serverTime") not in (None, ""):
        return server_ms(data["serverTime"])
    return server_ms(field(payload, "requestTime"))


SERVER_TIME: Final = ServerTime("/api/v2/public/time", parse_server_time)
