"""Retour cursors and the partition a sender's retour records live in.

The retour topic is keyed by sender code and written with Kafka's default partitioner, so one
sender's records are all in partition ``murmur2(code) % partitions``; a sender's read touches only
that partition. The cursor is the next offset to read there, wrapped with the partition and the
partition count so a cursor from before a repartition (or from another sender) is refused instead
of silently skipping records. It is opaque to clients: base64url of ``v1.<partitions>.<partition>.<offset>``.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from services.streaming.partitioner import murmur2, partition_for

__all__ = ["Cursor", "CursorError", "decode_cursor", "murmur2", "partition_for"]

_VERSION = "v1"
_FORM = re.compile(r"^v1\.([0-9]{1,5})\.([0-9]{1,5})\.([0-9]{1,19})$")


class CursorError(ValueError):
    """Not a cursor this service gave out (for this sender and topic layout)."""


@dataclass(frozen=True, slots=True)
class Cursor:
    partitions: int
    partition: int
    offset: int

    def encode(self) -> str:
        text = f"{_VERSION}.{self.partitions}.{self.partition}.{self.offset}"
        return base64.urlsafe_b64encode(text.encode("ascii")).rstrip(b"=").decode("ascii")


def decode_cursor(text: str, *, partitions: int, partition: int) -> Cursor:
    """Parse *text* and check it belongs to this sender's partition of the current topic layout."""
    if not text or len(text) > 64:
        raise CursorError("cursor must be 1 to 64 characters")
    padded = text + "=" * (-len(text) % 4)
    try:
        plain = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise CursorError("cursor is not base64url") from exc
    match = _FORM.match(plain)
    if match is None:
        raise CursorError("cursor has an unknown form")
    cursor = Cursor(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    if cursor.partitions != partitions or cursor.partition != partition:
        raise CursorError(
            "cursor belongs to another sender or to an older topic layout; start again without it"
        )
    return cursor
