"""REST answers row by row: one bad row is skipped, only a malformed answer is BadMessage.

Every venue's REST parsers take their rows out of the venue's envelope (`result.list`,
`data`, a bare array) and hand them to `parse_rows`; a single object goes to `parse_object`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from microservices.common.errors import BadMessage
from microservices.data_collector.exchanges.base import PARSE_ERRORS

R = TypeVar("R")


def parse_rows(rows: Any, parse_row: Callable[[Any], R | None], what: str = "answer") -> list[R]:
    """`parse_row` over a JSON array, skipping rows that fail (PARSE_ERRORS) or give None;
    BadMessage only when `rows` is not an array (`what` names it in the message)."""
    if not isinstance(rows, list):
        raise BadMessage(f"{what}: expected a JSON array, got {type(rows).__name__}")
    out: list[R] = []
    for row in rows:
        try:
            item = parse_row(row)
        except PARSE_ERRORS:
            continue
        if item is not None:
            out.append(item)
    return out


def parse_object(payload: Any, parse_obj: Callable[[dict[str, Any]], R]) -> R:
    """Apply `parse_obj` to a JSON object; any failure becomes BadMessage."""
    if not isinstance(payload, dict):
        raise BadMessage(f"expected a JSON object, got {type(payload).__name__}")
    try:
        return parse_obj(payload)
    except PARSE_ERRORS as exc:
        raise BadMessage(f"bad object: {exc!r}"[:300]) from exc
