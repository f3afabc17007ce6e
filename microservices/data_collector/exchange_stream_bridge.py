"""WebSocket bridge entry point (the seed's `exchange_stream_bridge.py`).

The loop itself is `ws_bridge.WsConnectionRunner`; the service wiring is `service.Collector`.
Running this module starts the collector with WebSocket bridges only (no REST polling).
"""

from __future__ import annotations

from microservices.data_collector.ws_bridge import BridgeParams, WsConnectionRunner

__all__ = ["BridgeParams", "WsConnectionRunner"]

if __name__ == "__main__":
    from microservices.cli import main

    raise SystemExit(main(["collector", "--no-rest"]))
