"""The project's small error hierarchy (three kinds: transient, bad data, fatal)."""

from __future__ import annotations


class CrossExchangeError(Exception):
    """Base class of every error this project raises on purpose."""


class FatalError(CrossExchangeError):
    """A bug or configuration error: the process should stop and say why."""


class BadMessage(CrossExchangeError):
    """Bad data from outside (a frame, a stream entry, a request): count, sample, drop."""


class SchemaError(BadMessage):
    """A stream entry or record that does not satisfy its stream schema."""


class TransientError(CrossExchangeError):
    """A fault that is expected to go away (network, 5xx, rate limit): retry with backoff."""
