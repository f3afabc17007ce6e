"""Counters of what the simulator did, per venue, served as JSON by GET /_sim/stats.

Frames are counted when written to the socket (never for a closed client); REST requests per
path, with the rate-limit outcomes. Plain data, no I/O.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

CONTROL_KEY = "_control"  # acks, subscription replies, errors
PONG_KEY = "_pong"  # a venue's own JSON pong (Bybit); a silenced connection still sends it


@dataclass(slots=True)
class VenueStats:
    ws_opened: int = 0
    ws_closed: int = 0
    frames_sent: int = 0  # every text/binary frame written, control frames included
    data_frames_sent: int = 0  # market-data frames (synthetic or replayed), malformed included
    replay_frames_sent: int = 0
    malformed_sent: int = 0
    frames_by_stream: dict[str, int] = field(default_factory=dict)  # stream/topic -> frames
    frames_suppressed: int = 0  # not sent because the connection was silenced
    frames_dropped_backlog: int = 0  # not sent because the client read too slowly
    book_diffs_skipped: int = 0  # L2 deltas not sent because of the depth_gap_every fault
    drops: int = 0  # connections closed by the drop_every fault
    server_closes: int = 0  # connections closed by protocol rules (idle, no subscribe, no pong)
    pings_sent: int = 0  # protocol pings the server sent (Binance); silence does not stop them
    pongs_sent: int = 0  # protocol pongs and JSON pongs answering the client's pings
    rest_requests: dict[str, int] = field(default_factory=dict)  # path -> requests
    rest_total: int = 0
    rest_inside_retry_after: int = 0  # requests that arrived inside a Retry-After/ban window
    rest_429: int = 0
    rest_418: int = 0
    rest_5xx: int = 0

    def count_frame(self, key: str, data: bool) -> None:
        self.frames_sent += 1
        self.frames_by_stream[key] = self.frames_by_stream.get(key, 0) + 1
        if data:
            self.data_frames_sent += 1
        elif key == PONG_KEY:
            self.pongs_sent += 1


@dataclass(slots=True)
class SimStats:
    venues: dict[str, VenueStats] = field(default_factory=dict)

    def venue(self, name: str) -> VenueStats:
        stats = self.venues.get(name)
        if stats is None:
            stats = self.venues[name] = VenueStats()
        return stats

    def reset(self) -> None:
        for name in list(self.venues):
            self.venues[name] = VenueStats()

    def snapshot(self) -> dict[str, Any]:
        venues = {name: asdict(stats) for name, stats in sorted(self.venues.items())}
        totals: dict[str, int] = {}
        for stats in venues.values():
            for key, value in stats.items():
                if isinstance(value, int):
                    totals[key] = totals.get(key, 0) + value
        return {"venues": venues, "totals": totals}
