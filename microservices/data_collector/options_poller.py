"""Options summaries: every OPTIONS_POLL_S the collector asks each collected venue with
option chains (Deribit: BTC, ETH; `exchanges/deribit/options.py` does the sums) for its
chain summary of each currency, publishes the `options_summary` record to `exchange.raw`
and keeps the latest per currency in the hash `collector_key(prefix, "options")` (field
`<venue>:<CURRENCY>`, value the record's stream fields as JSON; TTL three periods) that
`GET /api/v1/options/{currency}` reads.

Faults never stop the loop: a failed request or a JSON-RPC error counts
`ce_options_polls_total{outcome="failed"}` and keeps the previous summary until it expires;
skipped rows count `ce_options_rows_skipped_total{reason}`; a chain without live rows
counts `outcome="empty"`. The logic of a poll is in `poll_once` (testable with a fake
client); `OptionsPoller` is the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any, Final, Protocol, runtime_checkable

import orjson
import redis.asyncio as aredis

from microservices.common import metrics
from microservices.common.clock import now_ms
from microservices.common.errors import BadMessage, TransientError
from microservices.common.producer import StreamProducer
from microservices.common.records import OptionsSummary
from microservices.common.redis_io import TRANSIENT_REDIS_ERRORS
from microservices.common.schemas import RAW
from microservices.common.streams import Stream
from microservices.data_collector.exchanges.base import Exchange, RestRequest
from microservices.data_collector.rest_client import RestClient

logger = logging.getLogger(__name__)

TTL_PERIODS: Final = 3


@runtime_checkable
class OptionsVenue(Protocol):
    """An exchange with option chains (Deribit)."""

    name: str
    options_currencies: tuple[str, ...]

    def options_summary_request(self, currency: str) -> RestRequest: ...

    def parse_options_summary(
        self, currency: str, payload: Any, recv_ms: int
    ) -> tuple[OptionsSummary | None, dict[str, int]]: ...


def options_venues(exchanges: Mapping[str, Exchange]) -> list[tuple[Exchange, OptionsVenue]]:
    """The collected venues that have option chains (each as both of its types)."""
    return [(ex, ex) for ex in exchanges.values() if isinstance(ex, OptionsVenue)]


def summary_field(venue: str, currency: str) -> str:
    return f"{venue}:{currency}"


def summary_json(record: OptionsSummary) -> bytes:
    """The hash value: the record's `exchange.raw` fields (decodable with the RAW schema)."""
    return orjson.dumps(RAW.encode(record))


class OptionsPoller:
    """Polls every options venue's chains into exchange.raw and the latest-summary hash."""

    def __init__(
        self,
        venues: Mapping[str, Exchange],
        client: RestClient,
        producer: StreamProducer,
        raw: Stream[Any],
        redis: aredis.Redis,
        key: str,
        interval_s: float,
    ) -> None:
        self.venues = options_venues(venues)
        self.client, self.producer, self.raw = client, producer, raw
        self.redis, self.key, self.interval_s = redis, key, interval_s
        self.published = 0  # summaries handed to the producer
        self._outcomes: dict[str, dict[str, dict[str, Any]]] = {}  # venue -> currency -> last

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.poll_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval_s)

    async def poll_once(self) -> list[OptionsSummary]:
        """One poll of every venue and currency; the summaries published."""
        out: list[OptionsSummary] = []
        for exchange, chains in self.venues:
            for currency in chains.options_currencies:
                summary = await self._poll(exchange, chains, currency)
                if summary is not None:
                    out.append(summary)
        if out:
            await self._store(out)
        return out

    async def _poll(
        self, exchange: Exchange, chains: OptionsVenue, currency: str
    ) -> OptionsSummary | None:
        venue = exchange.name
        try:
            request = chains.options_summary_request(currency)
            payload = await self.client.get_json(exchange, request, attempts=2)
            summary, skipped = chains.parse_options_summary(currency, payload, now_ms())
        except (TransientError, BadMessage) as exc:
            self._outcome(venue, currency, "failed")
            logger.warning(
                "options.failed", extra={"exchange": venue, "currency": currency,
                                         "error": str(exc)[:200]},
            )  # fmt: skip
            return None
        for reason, count in skipped.items():
            metrics.OPTIONS_ROWS_SKIPPED.labels(venue, reason).inc(count)
        if summary is None:
            self._outcome(venue, currency, "empty")
            logger.info("options.empty", extra={"exchange": venue, "currency": currency,
                                                "skipped": skipped})  # fmt: skip
            return None
        self._outcome(venue, currency, "ok", instruments=summary.instruments)
        self.producer.publish(self.raw, summary)
        self.published += 1
        return summary

    def health(self) -> dict[str, dict[str, dict[str, Any]]]:
        """venue -> currency -> the last poll's outcome (ok, empty, failed), when it ended and
        the summary's instruments (ok only), for the venue's `/health` entry (`options`)."""
        return {venue: dict(chains) for venue, chains in self._outcomes.items()}

    def _outcome(self, venue: str, currency: str, outcome: str, **extra: Any) -> None:
        metrics.OPTIONS_POLLS.labels(venue, currency, outcome).inc()
        chains = self._outcomes.setdefault(venue, {})
        chains[currency] = {"outcome": outcome, "at_ms": now_ms(), **extra}

    async def _store(self, summaries: list[OptionsSummary]) -> None:
        fields = {summary_field(s.exchange, s.currency): summary_json(s) for s in summaries}
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.hset(self.key, mapping=fields)  # type: ignore[arg-type]
            pipe.expire(self.key, int(self.interval_s * TTL_PERIODS) + 1)
            await pipe.execute()
        except TRANSIENT_REDIS_ERRORS:
            return  # the producer logs Redis outages; the next poll writes again
