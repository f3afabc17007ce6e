"""RESP (Redis protocol) text for stream entries, built by hand for the producer's write path.

redis-py packs every argument in Python (~1 µs each, ~25 per raw entry); building the bulk
strings here with one f-string per entry costs a fraction of that. An entry is packed as the
ARGV slice the batch-XADD script reads: `<2 x field count>` then `field value ...`.

Lengths are counted in characters; that is the byte length only for ASCII, so `pack_fields`
falls back to UTF-8 byte lengths when an entry is not ASCII. Imports nothing from services.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

CRLF: Final = "\r\n"


def bulk(text: str) -> str:
    """One RESP bulk string (`$<bytes>\\r\\n<text>\\r\\n`), correct for any text."""
    return f"${len(text.encode())}\r\n{text}\r\n"


def pack_fields(fields: Mapping[str, str]) -> tuple[int, str]:
    """(argument count, RESP text) of one entry: the pair count, then field/value bulks."""
    body = "".join([f"${len(k)}\r\n{k}\r\n${len(v)}\r\n{v}\r\n" for k, v in fields.items()])
    if not body.isascii():
        body = "".join([bulk(k) + bulk(v) for k, v in fields.items()])
    return 1 + 2 * len(fields), pack_count(2 * len(fields)) + body


def pack_count(n: int) -> str:
    text = str(n)
    return f"${len(text)}\r\n{text}\r\n"


def command(args: list[str], packed: list[str], packed_args: int) -> bytes:
    """A whole RESP command: plain `args` first, then already packed text worth
    `packed_args` arguments."""
    head = f"*{len(args) + packed_args}\r\n" + "".join([bulk(a) for a in args])
    return (head + "".join(packed)).encode()
