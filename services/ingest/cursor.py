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
import struct
from dataclasses import dataclass
from functools import cache

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


_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


@cache
def _words(count: int) -> struct.Struct:
    return struct.Struct(f"<{count}I")


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (``Utils.murmur2``), unsigned; equal to aiokafka's but about 3x faster.

    Ingest hashes every key of every batch (to fill one record batch per partition), so the pure
    Python version's per-byte masking was a visible share of a request's CPU time.
    """
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    for k in _words(length >> 2).unpack_from(data):
        k = (k * _M) & _MASK
        k ^= k >> 24
        h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
    rest, tail = length & 3, length & ~3
    if rest >= 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h = ((h ^ data[tail]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def partition_for(key: bytes, partitions: int) -> int:
    """Exactly what aiokafka's (and the Java client's) default partitioner picks for a keyed record."""
    if partitions < 1:
        raise ValueError("a topic has at least one partition")
    return (murmur2(key) & 0x7FFFFFFF) % partitions


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
