"""Local exchange simulator: Binance spot/futures, Bybit v5 and Coinbase over REST and WebSocket.

One aiohttp server, one port, a path prefix per venue (`/binance`, `/binance_futures`, `/bybit`,
`/coinbase`) plus a control API under `/_sim/`. Frames come from a synthetic correlated market
(`market.py`, pure) or from recorded captures (`replay.py`), with fault injection (`faults.py`,
`ratelimit.py`). Entry points: `start_simulator()` / `run_simulator()` in `server.py`.
"""
