"""What the validate worker does with a batch of raw records, without faust or a broker.

For each raw record :func:`answer_record` decodes the RawMessage envelope, asks the pure
:func:`services.validate.pipeline.process` for the outcome, writes the duplicate-table entry and
adds the outcome's output records; :func:`answer_batch` does a batch and counts its outcomes. The
worker's agent (services/validate/service.py) only sends what this returns and awaits it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

from services.contracts.canonical import format_timestamp, record_from_json, validated_from_json
from services.contracts.codec import decode, encode
from services.contracts.errors import ContractError
from services.contracts.regions import RegionTable
from services.privacy.links import encode_link
from services.privacy.pseudonym import Keyring
from services.privacy.rotation import LinkSet
from services.streaming.batches import Record, check_record_size
from services.streaming.changelog import StateTable
from services.streaming.offsets import highest_offsets
from services.validate.dedup import DedupEntry
from services.validate.erasures import Refusals
from services.validate.metrics import ValidateMetrics
from services.validate.pipeline import (
    Outcome,
    RawInput,
    process,
    unprocessable,
    unreadable_raw,
)

log = logging.getLogger("jeugdhub.validate")


class RawRecord(Protocol):
    """A consumed raw record (aiokafka's ``ConsumerRecord``, as a run delivers it)."""

    @property
    def value(self) -> bytes: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...


@dataclass(frozen=True)
class OutputTopics:
    """The output topics' full names (``links``: the key rotation's links topic)."""

    validated: str
    rejected: str
    retour: str
    links: str = ""

    def new_batch(self) -> dict[str, list[Record]]:
        batch: dict[str, list[Record]] = {self.validated: [], self.rejected: [], self.retour: []}
        if self.links:
            batch[self.links] = []
        return batch


@dataclass
class AnsweredBatch:
    """A batch's output records per topic, its outcome counts and per partition its last offset."""

    records: dict[str, list[Record]]
    counts: BatchCounts
    highest: dict[int, int]


def answer_batch(
    out: OutputTopics,
    raw_records: Sequence[RawRecord],
    dedup: StateTable,
    keyring: Keyring,
    regions: RegionTable,
    erasures: Refusals | None = None,
    links: LinkSet | None = None,
) -> AnsweredBatch:
    """Answer every record in order; the duplicate table's writes wait in ``dedup`` for its drain.

    ``erasures``: the erasure topic as read so far (services/validate/erasures.py); None checks none.
    ``links``: the links topic as read so far (services/privacy/links.py); a link written in this
    batch is added at once, so a youth's second message of the batch writes none. None: no links.
    """
    records = out.new_batch()
    counts = BatchCounts()
    for raw in raw_records:
        counts.add(
            answer_record(
                out, records, raw.value, raw.partition, raw.offset, dedup, keyring, regions, erasures, links
            )
        )
    return AnsweredBatch(records, counts, highest_offsets(raw_records))


_received_at_text = lru_cache(maxsize=4096)(format_timestamp)
"""Records of one ingest batch share their received_at second: format each once."""


def _judge(
    value: bytes,
    partition: int,
    offset: int,
    dedup: StateTable,
    keyring: Keyring,
    regions: RegionTable,
    erasures: Refusals | None = None,
    links: LinkSet | None = None,
) -> Outcome:
    """The record's outcome; a record re-read after a crash finds its own entry (REPLAY) only when
    the changelog holds it, since the table stores nothing before its changelog record is
    acknowledged (services/streaming/changelog.py), and then the entry needs no new record."""
    try:
        raw = decode("RawMessage", value)
    except ContractError as exc:
        return unreadable_raw(f"raw record is not a RawMessage: {exc}", partition, offset)
    raw_input = RawInput(
        payload=raw["payload"],
        format=raw["format"],
        sender=raw["sender"],
        received_at=_received_at_text(raw["received_at"]),
        source_partition=partition,
        source_offset=offset,
    )

    def lookup(key: str) -> DedupEntry | None:
        # A table key other than a hash (pipeline.table_key) is its own route: one partition to ask.
        stored = dedup.get(key, None if key.startswith("#") else key)
        return None if stored is None else DedupEntry.from_dict(stored)

    return process(raw_input, lookup, keyring, regions, erasures, links)


def answer_record(
    out: OutputTopics,
    records: dict[str, list[Record]],
    value: bytes,
    partition: int,
    offset: int,
    dedup: StateTable,
    keyring: Keyring,
    regions: RegionTable,
    erasures: Refusals | None = None,
    links: LinkSet | None = None,
) -> Outcome:
    """One raw record's outcome, its output records added to ``records``; never raises for the record.

    Whatever goes wrong with this one record (a bug, an output too large for Kafka) becomes its
    ``UNPROCESSABLE`` rejection; nothing of the failed attempt is kept (no table entry, no record).
    """
    try:
        outcome = _judge(value, partition, offset, dedup, keyring, regions, erasures, links)
        produced = _output_records(out, outcome)
    except Exception as exc:
        log.exception(
            "record could not be answered normally; rejected as UNPROCESSABLE",
            extra={"partition": partition, "offset": offset},
        )
        outcome = _fallback(value, partition, offset, type(exc).__name__)
        produced = _output_records(out, outcome)
    else:
        if outcome.dedup_key is not None and outcome.dedup_entry is not None:
            dedup.set(outcome.dedup_key, outcome.dedup_entry.to_dict(), outcome.dedup_route)
        if outcome.link is not None and outcome.validated is not None and links is not None:
            links.apply(outcome.validated["youth_pseudonym"], outcome.link)
    for topic, key, record in produced:
        records[topic].append((key, record))
    return outcome


def _fallback(value: bytes, partition: int, offset: int, what: str) -> Outcome:
    try:
        raw = decode("RawMessage", value)
        raw_input = RawInput(
            raw["payload"],
            raw["format"],
            raw["sender"],
            _received_at_text(raw["received_at"]),
            partition,
            offset,
        )
    except Exception:
        raw_input = RawInput(b"", "json", None, None, partition, offset)
    return unprocessable(raw_input, what)


def _output_records(out: OutputTopics, outcome: Outcome) -> list[tuple[str, bytes, bytes]]:
    """(topic, key, value) of the outcome, in the order validated-or-rejected, then retour.

    Raises :class:`RecordTooLarge` for a record Kafka would refuse, so the caller answers the message
    with a small rejection instead of failing the batch's send.
    """
    produced: list[tuple[str, bytes, bytes]] = []
    if outcome.validated is not None:
        value = encode("ValidatedMessage", validated_from_json(outcome.validated))
        youth = outcome.youth_key or outcome.validated["youth_pseudonym"]  # the anchor during a rotation
        produced.append((out.validated, youth.encode(), value))
        if outcome.link is not None and out.links:
            # The youth's link, sent and acknowledged with its validated record (one batch).
            pseudonym = outcome.validated["youth_pseudonym"]
            produced.append((out.links, pseudonym.encode(), encode_link(outcome.link)))
    if outcome.rejection is not None:
        sender = outcome.rejection["sender"]
        key = f"{sender['code'] if sender else 'unknown'}:{outcome.rejection['message_id'] or ''}".encode()
        produced.append(
            (out.rejected, key, encode("Rejection", record_from_json("Rejection", outcome.rejection)))
        )
    sender = outcome.retour["sender"]
    value = encode("Retour", record_from_json("Retour", outcome.retour))
    produced.append((out.retour, (sender["code"] if sender else "unknown").encode(), value))
    for topic, key, value in produced:
        check_record_size(topic, key, value)
    return produced


SENDER_KINDS = frozenset({"provider", "municipality"})
"""The ``sender_kind`` label's values besides ``unknown`` (unreadable message, or no sender)."""


@dataclass
class BatchCounts:
    """Outcome counts of one batch, added to the Prometheus counters once per batch.

    Rejects per sender code; rule violations per (rule code, sender kind), never per sender code,
    so the series stay bounded with thousands of senders (services/validate/metrics.py).
    """

    accepted: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    rules: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, outcome: Outcome) -> None:
        if outcome.status == "accepted":
            self.accepted += 1
        elif outcome.status == "duplicate":
            self.duplicates += 1
        else:
            sender = outcome.retour["sender"]
            code = sender["code"] if sender else "unknown"
            kind = sender["kind"] if sender and sender["kind"] in SENDER_KINDS else "unknown"
            self.rejected[code] += 1
            for rule in {error["code"] for error in outcome.retour["errors"]}:
                self.rules[(rule, kind)] += 1

    def record(self, metrics: ValidateMetrics) -> None:
        if self.accepted:
            metrics.accepted.inc(self.accepted)
        if self.duplicates:
            metrics.duplicates.inc(self.duplicates)
        for code, count in self.rejected.items():
            metrics.rejected.labels(sender=code).inc(count)
        for (rule, kind), count in self.rules.items():
            metrics.rejections_by_rule.labels(code=rule, sender_kind=kind).inc(count)
