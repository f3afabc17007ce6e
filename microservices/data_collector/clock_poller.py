"""Polls each venue's server time for the clock-skew estimate (`clock_skew.py`): I/O shell.

Every `interval_s` (CLOCK_SKEW_POLL_S) each collected venue whose spec declares a
`server_time` endpoint is asked `SAMPLES_PER_POLL` times in a row through the shared
RestClient (its weight budget and Retry-After windows apply); each answer becomes one
`SkewSample` in `VenueStatus`, whose /health fields and gauges show the one with the smallest
round trip of the last few. One attempt per request (a retry would stretch the round trip);
failures are logged folded, one line per venue and cause per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Final

from microservices.common.clock import monotonic_s, wall_ms
from microservices.common.errors import BadMessage, TransientError
from microservices.common.log_fold import FoldedLog
from microservices.data_collector import exchanges as registry
from microservices.data_collector.clock_skew import SkewSample, skew_sample
from microservices.data_collector.exchanges.base import Exchange
from microservices.data_collector.exchanges.package import ServerTime
from microservices.data_collector.rest_client import RestClient
from microservices.data_collector.rest_errors import failure_fields
from microservices.data_collector.venue_status import VenueStatus

logger = logging.getLogger(__name__)
SAMPLES_PER_POLL: Final = 3


async def measure_skew(client: RestClient, exchange: Exchange, spec: ServerTime) -> SkewSample:
    """One server-time request: our wall time at send, the round trip on the monotonic clock
    (immune to clock steps), the venue's time from its answer. Raises what the client and the
    parser raise (TransientError, BadMessage)."""
    send_ms, started = wall_ms(), monotonic_s()
    payload = await client.get_once(exchange, spec.request())
    rtt_ms = (monotonic_s() - started) * 1000
    return skew_sample(send_ms, send_ms + rtt_ms, spec.parse(payload))


def server_time_targets(
    exchanges: Mapping[str, Exchange],
) -> list[tuple[Exchange, ServerTime]]:
    """(exchange, its server-time endpoint) of every collected venue that declares one."""
    specs = registry.venue_specs()
    targets = []
    for venue, exchange in exchanges.items():
        spec = specs.get(venue)
        if spec is not None and spec.server_time is not None:
            targets.append((exchange, spec.server_time))
    return targets


async def poll_clock_skew(
    exchanges: Mapping[str, Exchange],
    client: RestClient,
    status: VenueStatus,
    interval_s: float,
    stop: asyncio.Event,
    error_log_interval_s: float = 60.0,
) -> None:
    """Until `stop`: every `interval_s`, `SAMPLES_PER_POLL` skew samples per venue."""
    failures = FoldedLog(logger, "clock_skew.failed", error_log_interval_s)
    targets = server_time_targets(exchanges)
    while targets and not stop.is_set():
        for exchange, spec in targets:
            for _ in range(SAMPLES_PER_POLL):
                try:
                    sample = await measure_skew(client, exchange, spec)
                except (TransientError, BadMessage) as exc:
                    endpoint, cause = failure_fields(exc)
                    failures.add({"exchange": exchange.name, "cause": cause}, endpoint=endpoint)
                    break
                status.add_clock_skew(exchange.name, sample)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
