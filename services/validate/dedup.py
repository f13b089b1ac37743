"""Duplicate decision for (sender, message_id): pure logic, the caller owns the state store.

Semantics (messages.md, ``JH030`` row, and metrics.md "first to arrive counts"):

- One ``DedupEntry`` is kept per key ``topics.dedup_key(sender_code, message_id)``: the content hash of the
  first copy, its outcome (accepted or rejected) and the raw-topic offset it was read from.
- ``NEW``: no entry. Validate normally, then store an entry with the outcome.
- ``REPLAY``: an entry exists with the same source offset and the same content. This is the very same
  raw record processed again (the service crashed after storing the entry but before committing its
  input offset). It must produce the same outputs as the first time, so the caller validates and
  emits again (downstream consumers see an exact repeat, which they treat idempotently); it is *not*
  a duplicate.
- ``DUPLICATE``: same content, another record (another offset, or no offset at all, as in
  ``jeugdhub replay``). The sender gets a retour with status ``duplicate``; nothing is re-emitted and
  the entry is not changed, whether the first copy was accepted or rejected.
- ``CONFLICT``: different content under the same key. Rejected with ``JH030``; the original entry is
  kept, so the first copy stays the one that counts. A record at the stored offset with different
  content (a raw topic re-created and its offsets reused) is a conflict too, never a replay.

Content identity is SHA-256 over the canonical serialisation of the parsed JSON object (keys sorted
at every depth, no whitespace, UTF-8), so key order, spacing and escapes such as ``\\u00e9`` versus
``é`` in the raw text do not matter.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Literal, NamedTuple, cast

import orjson

Outcome = Literal["accepted", "rejected"]
_OUTCOMES: frozenset[str] = frozenset({"accepted", "rejected"})
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class Decision(StrEnum):
    """What to do with a message given what was stored for its (sender, message_id)."""

    NEW = "new"
    REPLAY = "replay"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


class DedupEntry(NamedTuple):
    """What is remembered about the first copy of a (sender, message_id).

    A named tuple (immutable, and cheaper to create than a frozen dataclass: one per message).
    """

    content_hash: str
    outcome: Outcome
    source_offset: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "content_hash": self.content_hash,
            "outcome": self.outcome,
            "source_offset": self.source_offset,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DedupEntry:
        """Rebuild an entry from ``to_dict`` output; a corrupt entry raises ``ValueError``."""
        content_hash = data.get("content_hash")
        outcome = data.get("outcome")
        offset = data.get("source_offset")
        if not isinstance(content_hash, str) or not _SHA256_HEX.fullmatch(content_hash):
            raise ValueError(
                f"dedup entry: content_hash must be 64 lower-case hex characters, got {content_hash!r}"
            )
        if outcome not in _OUTCOMES:
            raise ValueError(f"dedup entry: outcome must be 'accepted' or 'rejected', got {outcome!r}")
        if offset is not None and (not isinstance(offset, int) or isinstance(offset, bool)):
            raise ValueError(f"dedup entry: source_offset must be an int or null, got {offset!r}")
        return cls(content_hash, cast(Outcome, outcome), offset)


def canonical_json(obj: Any) -> bytes:
    """Sorted keys at every depth, no whitespace, UTF-8.

    orjson cannot encode integers beyond 64 bits; those (rare, always malformed) objects fall back to
    the standard library, which is deterministic for them too.
    """
    try:
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_hash(obj: Any) -> str:
    """SHA-256 hex of ``canonical_json(obj)``: the identity of a message's content."""
    return hashlib.sha256(canonical_json(obj)).hexdigest()


def decide(existing: DedupEntry | None, content_hash: str, source_offset: int | None) -> Decision:
    """Classify a message against the stored entry for its key (see the module docstring)."""
    if existing is None:
        return Decision.NEW
    if existing.content_hash != content_hash:
        return Decision.CONFLICT
    if source_offset is not None and existing.source_offset == source_offset:
        return Decision.REPLAY
    return Decision.DUPLICATE
