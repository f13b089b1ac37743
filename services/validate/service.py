"""The validate worker: raw topic in; validated, rejected and retour topics out (faust).

The agent only moves bytes: it decodes the RawMessage envelope, asks the pure
:func:`services.validate.pipeline.process` for the outcome, stores the duplicate-table entry and
sends the outputs. It awaits every send's acknowledgement before the batch's offsets may be
committed (at-least-once); a raw record processed again after a crash finds its own offset in the
duplicate table and produces the same outputs again (see pipeline/dedup).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import faust

from services.contracts.canonical import format_timestamp, record_from_json, validated_from_json
from services.contracts.codec import decode, encode
from services.contracts.errors import ContractError
from services.contracts.regions import RegionTable
from services.contracts.topics import RAW, REJECTED, RETOUR, VALIDATED
from services.privacy.pseudonym import Keyring
from services.streaming.batches import (
    Record,
    Routed,
    check_record_size,
    send_record_batches,
    send_routed_batches,
)
from services.streaming.changelog import ChangelogWriter, state_table
from services.streaming.delivery import deliver, handle_batches
from services.streaming.faust_app import new_faust_app
from services.streaming.lag import update_lag
from services.streaming.web import add_service_routes, faust_is_ready
from services.validate.dedup import DedupEntry
from services.validate.metrics import ValidateMetrics, new_metrics
from services.validate.pipeline import Outcome, RawInput, process, unprocessable, unreadable_raw
from services.validate.settings import ValidateSettings

log = logging.getLogger("jeugdhub.validate")


@dataclass
class ValidateService:
    app: faust.App
    metrics: ValidateMetrics


def create_app(settings: ValidateSettings, keyring: Keyring, regions: RegionTable) -> ValidateService:
    """Build the faust app; nothing connects until a worker starts it."""
    prefix = settings.topic_prefix
    app = new_faust_app(settings, RAW.partitions)
    metrics = new_metrics()
    raw_topic = app.topic(
        RAW.full_name(prefix), key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    out = Outputs(VALIDATED.full_name(prefix), REJECTED.full_name(prefix), RETOUR.full_name(prefix), app)
    # "<sender>:<message_id>" -> DedupEntry, keyed and partitioned like the raw topic; its changelog
    # records go out with the batch's outputs and are awaited with them.
    dedup = state_table(app, "dedup", RAW.partitions)

    async def handle(events: list[Any]) -> None:
        records = out.new_batch()
        highest: dict[int, int] = {}
        counts = BatchCounts()
        for event in events:
            message = event.message
            outcome = _answer(
                out, records, message.value, message.partition, message.offset, dedup, keyring, regions
            )
            counts.add(outcome)
            partition = message.partition
            if message.offset > highest.get(partition, -1):
                highest[partition] = message.offset
        changelog = dedup.drain()
        await deliver(lambda: out.send(records, (dedup.topic, changelog)), "validate")
        try:
            now = time.time()
            observe = metrics.latency.observe
            for event in events:
                observe(max(0.0, now - event.message.timestamp))
            counts.record(metrics)
            metrics.messages_in.inc(len(events))
            metrics.batch_size.observe(len(events))
            metrics.dedup_entries.set(len(dedup))
            update_lag(app, metrics.lag, raw_topic.get_topic_name(), highest)
        except Exception:  # the outputs are out; a metric must not stop the worker
            log.exception("metrics of a batch not recorded")

    @app.agent(raw_topic, concurrency=1)
    async def validate(stream: Any) -> None:
        await handle_batches(stream, settings.batch_size, settings.batch_within_s, handle, "validate")

    add_service_routes(app, metrics.registry, lambda: faust_is_ready(app))
    return ValidateService(app, metrics)


_received_at_text = lru_cache(maxsize=4096)(format_timestamp)
"""Records of one ingest batch share their received_at second: format each once."""


def _judge(
    value: bytes, partition: int, offset: int, dedup: Any, keyring: Keyring, regions: RegionTable
) -> Outcome:
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
        stored = dedup.get(key)
        return DedupEntry.from_dict(stored) if stored is not None else None

    return process(raw_input, lookup, keyring, regions)


def _answer(
    out: Outputs,
    records: dict[str, list[Record]],
    value: bytes,
    partition: int,
    offset: int,
    dedup: ChangelogWriter,
    keyring: Keyring,
    regions: RegionTable,
) -> Outcome:
    """One raw record's outcome, its output records added to ``records``; never raises for the record.

    Whatever goes wrong with this one record (a bug, an output too large for Kafka) becomes its
    ``UNPROCESSABLE`` rejection; nothing of the failed attempt is kept (no table entry, no record).
    """
    try:
        outcome = _judge(value, partition, offset, dedup, keyring, regions)
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


@dataclass
class Outputs:
    """The output topics. A batch's records are sent as one record batch per topic-partition
    (:func:`send_record_batches`) through the app's producer, not through faust's per-record
    ``Topic.send`` (codecs, FutureMessage, sensors): the values are bytes already and the partitions
    are the default partitioner's either way, so the records are the same."""

    validated: str
    rejected: str
    retour: str
    app: faust.App

    def new_batch(self) -> dict[str, list[Record]]:
        return {self.validated: [], self.rejected: [], self.retour: []}

    async def send(
        self, batch: dict[str, list[Record]], changelog: tuple[str, list[Routed]]
    ) -> list[Awaitable[Any]]:
        """Queue every record and the table's changelog records of this batch (see ChangelogWriter);
        the futures resolve when Kafka acknowledged them (acks=all)."""
        producer = self.app.producer._ensure_producer()  # type: ignore[attr-defined]
        pending: list[Awaitable[Any]] = []
        for topic, records in batch.items():
            if records:
                pending.extend(await send_record_batches(producer, topic, records))
        pending.extend(await send_routed_batches(producer, changelog[0], changelog[1]))
        return pending


def _output_records(out: Outputs, outcome: Outcome) -> list[tuple[str, bytes, bytes]]:
    """(topic, key, value) of the outcome, in the order validated-or-rejected, then retour.

    Raises :class:`RecordTooLarge` for a record Kafka would refuse, so the caller answers the message
    with a small rejection instead of failing the batch's send.
    """
    produced: list[tuple[str, bytes, bytes]] = []
    if outcome.validated is not None:
        value = encode("ValidatedMessage", validated_from_json(outcome.validated))
        produced.append((out.validated, outcome.validated["youth_pseudonym"].encode(), value))
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
