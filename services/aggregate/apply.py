"""The apply stage's logic, without faust: a batch of validated records into the youth-messages
table and the youth-facts records to publish for it.

The worker's agent only moves bytes (services/aggregate/service.py): it hands each batch's records
to :func:`apply_batch`, sends the table's changelog records and the facts records it returns, and
awaits them before the batch's offsets may be committed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from services.aggregate.facts import build_youth_facts
from services.aggregate.records import facts_record, message_key
from services.contracts.canonical import validated_to_json
from services.contracts.codec import decode
from services.contracts.regions import RegionTable
from services.privacy.rotation import as_one_youth
from services.streaming.batches import Record, Routed
from services.streaming.changelog import StateTable
from services.streaming.offsets import highest_offsets

log = logging.getLogger("jeugdhub.aggregate")


class ValidatedRecord(Protocol):
    """A consumed validated record (aiokafka's ``ConsumerRecord``, as a run delivers it)."""

    @property
    def value(self) -> bytes: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...


@dataclass
class AppliedBatch:
    """What one batch leaves to send: the table's changelog records and the youths' facts records,
    and per partition the last offset it covered (for the lag gauge)."""

    changelog: list[Routed]
    facts: list[Record]
    highest: dict[int, int]


def apply_batch(
    messages_of: StateTable,
    records: Sequence[ValidatedRecord],
    regions: RegionTable,
    erasures: LeavesOut | None = None,
) -> AppliedBatch:
    """Store each record's message under its youth, derive the touched youths' facts, drain the table.

    ``erasures`` (the erasure topic as read so far): messages of an erased youth are left out.
    """
    touched = merge_messages(messages_of, records, erasures)
    facts = facts_records(messages_of, touched, regions)
    return AppliedBatch(messages_of.drain(), facts, highest_offsets(records))


def merge_messages(
    messages_of: StateTable, records: Iterable[ValidatedRecord], erasures: LeavesOut | None = None
) -> set[str]:
    """Add each record's message to its youth's stored messages; returns the youths touched.

    A youth's entry is written only when a message is new or differs from the stored one. Every
    youth of the batch counts as touched, not only changed ones: after a crash between the
    changelog record and the facts record (or a fenced-out worker that wrote only the first) the
    re-read message is already in the table, and its facts would otherwise never be published.
    Facts are upserts, so a repeat changes no figure. An undecodable record is logged and skipped:
    one bad record must not cost the batch (services/streaming/delivery.py).
    """
    touched: set[str] = set()
    for record in records:
        try:
            message = validated_to_json(decode("ValidatedMessage", record.value))
            youth = youth_of(record, message)
            stored: dict[str, Any] = dict(messages_of.get(youth, youth) or {})
            key = message_key(message)
        except Exception as exc:
            log.error(
                "undecodable validated record skipped",
                extra={"error": f"{type(exc).__name__}: {exc}"[:300], "offset": record.offset},
            )
            continue
        if erasures is not None and is_left_out(erasures, youth, message):
            continue  # erased on request: as if never accepted (services/privacy/erasure.py)
        if stored.get(key) != message:
            stored[key] = message
            messages_of.set(youth, stored)
        touched.add(youth)
    return touched


class LeavesOut(Protocol):
    """What the apply stage asks of the erasures (:class:`services.privacy.erasure.ErasureSet`)."""

    def leaves_out(self, pseudonym: str, received_at: str) -> bool: ...


def is_left_out(erasures: LeavesOut, youth: str, message: dict[str, Any]) -> bool:
    """Whether an accepted message is erased: its youth identity (the record key, the anchor during
    a key rotation) or its own pseudonym is erased; the erasure topic holds both."""
    received_at = str(message["received_at"])
    pseudonym = str(message["youth_pseudonym"])
    return erasures.leaves_out(youth, received_at) or (
        pseudonym != youth and erasures.leaves_out(pseudonym, received_at)
    )


def youth_of(record: ValidatedRecord, message: dict[str, Any]) -> str:
    """The youth's identity in the state: the record's key, the anchor (services/privacy/rotation.py).

    Outside a key rotation it equals the message's ``youth_pseudonym``; during one it is the youth's
    pseudonym under the previous key, so its old and new messages stay one youth. A record without a
    key (never written by validate) falls back to the pseudonym.
    """
    key = getattr(record, "key", None)
    return key.decode() if isinstance(key, bytes) and key else str(message["youth_pseudonym"])


def facts_records(messages_of: StateTable, youths: Iterable[str], regions: RegionTable) -> list[Record]:
    """(youth, YouthFactsRecord) for each youth, from all of its stored messages.

    A youth whose facts cannot be derived (a bug) is logged and left out; its messages stay stored,
    so its next message retries.
    """
    out: list[Record] = []
    for youth in youths:
        messages = as_one_youth(youth, messages_of.get(youth, youth).values())
        try:
            facts = build_youth_facts(messages, regions)
        except Exception:
            log.exception("youth facts not derived", extra={"messages": len(messages)})
            continue
        out.append((youth.encode(), facts_record(youth, facts, len(messages))))
    return out
