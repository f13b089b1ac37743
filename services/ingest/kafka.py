"""The Kafka shell of ingest: transactional writes to the raw topic, retour reads.

Writes (``RawWriter``)
    Every request's records are written in a Kafka transaction and the request is answered 202
    only after the commit returned, so an acknowledged message is on the raw topic and a failed
    request left nothing visible to ``read_committed`` readers (validate). The request's access
    record (``services/ingest/audit.py``) goes to the audit topic in the same transaction: an
    acknowledged message always has its access record, and an aborted one never has. A transaction per request
    would cap throughput at one commit round trip per request, so requests are *group-committed*:
    each producer slot takes every request queued while it was busy (up to
    ``ingest_max_txn_messages`` messages) into its next transaction. All-or-nothing still holds per
    request, because a request never spans two transactions. ``ingest_producers`` slots (each its own
    transactional producer, ``<transactional_id>-<n>``) commit in parallel.

    A record Kafka can never take must not fail anybody else: ``write`` refuses a record larger than
    ``ingest_max_record_bytes`` before it joins a group (``RecordRefused``, answered 413), and when a
    grouped transaction still fails because Kafka refused a record as too large (a topic configured
    with a smaller ``max.message.bytes``), each of its requests is retried in a transaction of its
    own on the replacement producer: the offender gets ``RecordRefused``, the others their commit.

    Failure handling is otherwise deliberately blunt: any error or timeout fails the slot's whole
    transaction (its requests get 503), the producer is thrown away and a fresh one is created with
    the same transactional id. Its ``init_transactions`` fences the old one and aborts whatever it left open,
    so no half-written transaction lingers. While no slot is connected, requests get 503 at once;
    slots keep reconnecting with back-off, so the service recovers when Kafka does, without a
    restart. An idle slot probes the cluster every few seconds so a broker that disappeared while
    nothing was being sent is noticed before the next request.

Reads (``RetourReader``)
    One manually assigned consumer (no group, no commits) serves every ``GET /v1/retour``, one at a
    time (a lock), seeking to the sender's cursor in the one partition their key hashes to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import aiokafka.producer.sender
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)

from services.contracts.canonical import record_to_json
from services.contracts.codec import decode
from services.contracts.errors import ContractError
from services.contracts.records import RetourJSON
from services.ingest.checks import record_bytes
from services.ingest.cursor import Cursor, partition_for
from services.ingest.metrics import IngestMetrics
from services.ingest.settings import IngestSettings
from services.streaming.batches import Record as Record
from services.streaming.batches import send_record_batches

log = logging.getLogger("jeugdhub.ingest.kafka")

_FAILURES = (KafkaError, TimeoutError, OSError, AssertionError, RuntimeError)


async def discard_producer(producer: Any, closing: bool, what: str) -> None:
    """Stop a producer that failed or is being replaced, within 2 s, whatever state it is in.

    A cancellation is swallowed too (the stop of a broken producer may be cancelled by its own
    timeout), unless the owner is closing: then it is the shutdown's and must propagate.
    """
    if producer is None:
        return
    try:
        async with asyncio.timeout(2.0):
            await producer.stop()
    except (*_FAILURES, asyncio.CancelledError) as exc:
        if isinstance(exc, asyncio.CancelledError) and closing:
            raise
        log.debug("producer did not stop cleanly", extra={"producer": what, "error": type(exc).__name__})


PROBE_INTERVAL_S = 2.0
_MAX_BACKOFF_S = 5.0
_RECORD_REFUSALS = (MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError)
"""Errors that say a record (or its batch) is too large: the same records would fail again."""


class KafkaUnavailable(Exception):
    """Kafka did not take the write (or read) in time; the caller answers 503."""


class RecordRefused(Exception):
    """A record of this request can never be stored (too large): the caller answers 413, not 503."""

    def __init__(self, detail: str, index: int | None = None) -> None:
        super().__init__(detail)
        self.index = index


@dataclass(eq=False)
class _Pending:
    records: Sequence[Record]
    audit: Record | None
    future: asyncio.Future[None]
    abandoned: bool = False


@dataclass
class _Slot:
    index: int
    producer: Any = None
    ready: bool = False
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    retry: list[_Pending] = field(default_factory=list, repr=False)
    """Requests of a failed group, each to be retried alone by this slot's next producer."""


class RawWriter:
    """Group-committing transactional writer to one topic; see the module docstring."""

    def __init__(
        self, settings: IngestSettings, metrics: IngestMetrics, topic: str, audit_topic: str
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.topic = topic
        self.audit_topic = audit_topic
        self._audit_topic_checked = False
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._slots = [_Slot(i) for i in range(settings.ingest_producers)]
        self._closing = False
        self._ready_slots = 0
        # aiokafka retries AddPartitionsToTxn after CONCURRENT_TRANSACTIONS (the previous commit's
        # markers are still being written) after a hard-coded 20 ms, which made every back-to-back
        # transaction take >= 20 ms. The markers take a few ms; retry sooner.
        aiokafka.producer.sender.BACKOFF_OVERRIDE = settings.ingest_txn_retry_backoff_ms / 1000

    # -- public ----------------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        return self._ready_slots > 0

    async def start(self) -> None:
        """Start the slots; they connect in the background (the service starts even if Kafka is down)."""
        for slot in self._slots:
            slot.task = asyncio.create_task(self._run_slot(slot), name=f"ingest-writer-{slot.index}")

    async def close(self) -> None:
        self._closing = True
        for slot in self._slots:
            if slot.task is not None:
                slot.task.cancel()
        for slot in self._slots:
            if slot.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await slot.task
        for slot in self._slots:
            self._fail(slot.retry, "the service is shutting down")
            slot.retry.clear()
        self._fail_queued("the service is shutting down")

    async def write(self, records: Sequence[Record], audit: Record | None = None) -> None:
        """Return once *records* (and the access record *audit*, on the audit topic) are committed
        in one transaction; raise KafkaUnavailable if that cannot be promised, RecordRefused if
        Kafka can never take one of them (before anything is sent)."""
        limit = self.settings.ingest_max_record_bytes
        for index, record in enumerate(records):
            if record_bytes(record) > limit:
                raise RecordRefused(f"a record would be {record_bytes(record)} bytes; at most {limit}", index)
        if not self._ready_slots or self._closing:
            raise KafkaUnavailable("no Kafka producer is connected")
        pending = _Pending(records, audit, asyncio.get_running_loop().create_future())
        self._queue.put_nowait(pending)
        # A slot bounds a transaction by the write timeout once it took it; the extra allowance
        # covers time in the queue behind other transactions. Cancelling the wait cancels the
        # future; a slot skips abandoned requests it has not started yet.
        try:
            async with asyncio.timeout(2 * self.settings.ingest_kafka_write_timeout_s):
                await pending.future
        except TimeoutError:
            pending.abandoned = True
            raise KafkaUnavailable("Kafka did not confirm the write in time") from None
        except asyncio.CancelledError:
            pending.abandoned = True
            raise

    async def probe(self) -> bool:
        """True when a connected producer gets cluster metadata within the connect timeout."""
        for slot in self._slots:
            if slot.ready and slot.producer is not None:
                try:
                    async with asyncio.timeout(self.settings.ingest_kafka_connect_timeout_s):
                        await slot.producer.client.fetch_all_metadata()
                except _FAILURES:
                    return False
                return True
        return False

    # -- slots -----------------------------------------------------------------------------------
    async def _run_slot(self, slot: _Slot) -> None:
        backoff = 0.2
        while not self._closing:
            await self._create_audit_topic()
            try:
                slot.producer = await self._connect(slot.index)
            except _FAILURES as exc:
                log.warning(
                    "kafka producer not connected",
                    extra={"slot": slot.index, "error": f"{type(exc).__name__}: {exc}", "retry_s": backoff},
                )
                await asyncio.sleep(backoff)
                backoff = min(_MAX_BACKOFF_S, backoff * 2)
                continue
            backoff = 0.2
            self._set_ready(slot, True)
            log.info("kafka producer ready", extra={"slot": slot.index})
            try:
                await self._serve(slot)
            finally:
                self._set_ready(slot, False)
                if not self.available:
                    self._fail_queued("no Kafka producer is connected")
                await self._discard(slot.producer)
                slot.producer = None

    async def _create_audit_topic(self) -> None:
        """With ``JEUGDHUB_CREATE_TOPICS`` (on by default, off in Kubernetes where the KafkaTopic is
        generated) create the audit topic if it is missing, once: ingest is its only writer, and a
        hub started without it would answer every post 503. A failure (Kafka away, no Create
        permission) is only logged; connecting then fails or succeeds on whether the topic exists."""
        if self._audit_topic_checked or not self.settings.create_topics:
            return
        self._audit_topic_checked = True  # the slots share it; one attempt per start is enough
        from services.contracts.topics import AUDIT
        from services.streaming.topic_admin import create_hub_topics

        s = self.settings
        try:
            await asyncio.to_thread(
                create_hub_topics,
                s.kafka_bootstrap,
                s.topic_prefix,
                (AUDIT,),
                s.ingest_kafka_connect_timeout_s,
                replication_factor=s.replication_factor,
                min_insync_replicas=s.min_insync_replicas,
            )
        except Exception as exc:  # kafka-python raises its own and RuntimeError; none may stop ingest
            self._audit_topic_checked = False
            log.warning("audit topic not created", extra={"error": f"{type(exc).__name__}: {exc}"})

    def _set_ready(self, slot: _Slot, ready: bool) -> None:
        slot.ready = ready
        self._ready_slots = sum(1 for s in self._slots if s.ready)
        self.metrics.kafka_available.set(self._ready_slots)

    async def _connect(self, index: int) -> Any:
        s = self.settings
        producer = AIOKafkaProducer(
            bootstrap_servers=s.kafka_bootstrap,
            client_id=f"jeugdhub-ingest-{index}",
            transactional_id=f"{s.topic_prefix}{s.ingest_transactional_id}-{index}",
            enable_idempotence=True,
            acks="all",
            request_timeout_ms=int(s.ingest_kafka_write_timeout_s * 1000),
            transaction_timeout_ms=int(s.ingest_transaction_timeout_s * 1000),
            max_request_size=max(1_048_576, s.ingest_max_message_bytes + 4096),
            max_batch_size=262_144,
            retry_backoff_ms=20,
            linger_ms=0,
        )
        try:
            async with asyncio.timeout(s.ingest_kafka_connect_timeout_s):
                await producer.start()
                await producer.partitions_for(self.topic)
                await producer.partitions_for(self.audit_topic)  # no audit topic: not ready
                # An empty transaction waits for init_transactions (producer id, fencing of a
                # predecessor with this transactional id) and commits without a broker round trip.
                await producer.begin_transaction()
                await producer.commit_transaction()
        except BaseException:
            await self._discard(producer)
            raise
        return producer

    async def _discard(self, producer: Any) -> None:
        await discard_producer(producer, self._closing, "kafka producer")

    async def _serve(self, slot: _Slot) -> None:
        """Commit queued requests until a transaction fails (then the producer is replaced).

        Requests of a group that failed on a refused record come first, one per transaction.
        """
        while not self._closing:
            if slot.retry:
                pending = slot.retry.pop(0)
                if not (pending.abandoned or pending.future.done()) and not await self._transact(
                    slot, [pending]
                ):
                    return
                continue
            try:
                first = await asyncio.wait_for(self._queue.get(), PROBE_INTERVAL_S)
            except TimeoutError:
                if not await self._probe_one(slot.producer):
                    log.warning("kafka unreachable from idle producer", extra={"slot": slot.index})
                    return
                continue
            batch = self._take_batch(first)
            if batch and not await self._transact(slot, batch):
                return

    def _take_batch(self, first: _Pending) -> list[_Pending]:
        limit = self.settings.ingest_max_txn_messages
        batch = [first] if not (first.abandoned or first.future.done()) else []
        count = len(first.records)
        while count < limit and not self._queue.empty():
            nxt = self._queue.get_nowait()
            if nxt.abandoned or nxt.future.done():
                continue
            if batch and count + len(nxt.records) > limit:
                # Put it back at the front is not possible with asyncio.Queue; it leads the next one.
                self._requeue_front(nxt)
                break
            batch.append(nxt)
            count += len(nxt.records)
        return batch

    def _requeue_front(self, item: _Pending) -> None:
        rest: list[_Pending] = []
        while not self._queue.empty():
            rest.append(self._queue.get_nowait())
        self._queue.put_nowait(item)
        for other in rest:
            self._queue.put_nowait(other)

    async def _transact(self, slot: _Slot, batch: list[_Pending]) -> bool:
        producer = slot.producer
        messages = sum(len(p.records) for p in batch)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.settings.ingest_kafka_write_timeout_s):
                await producer.begin_transaction()
                records = (record for pending in batch for record in pending.records)
                sent = await send_record_batches(producer, self.topic, records)
                audits = [pending.audit for pending in batch if pending.audit is not None]
                if audits:
                    sent += await send_record_batches(producer, self.audit_topic, audits)
                await asyncio.gather(*sent)
                await producer.commit_transaction()
        except asyncio.CancelledError:
            # Shutdown mid-transaction: nobody gets a 202 for it (the replacement producer's
            # init_transactions, or the broker's transaction timeout, aborts it).
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(KafkaUnavailable("the service is shutting down"))
            raise
        except _FAILURES as exc:
            self.metrics.write_duration.observe(time.perf_counter() - started)
            refused = isinstance(exc, _RECORD_REFUSALS)
            if refused and len(batch) > 1:
                # Someone's record is too large for Kafka. Retry every request alone on the next
                # producer, so only the one whose record it is fails.
                log.warning(
                    "kafka refused a record of a group commit; retrying its requests one by one",
                    extra={"slot": slot.index, "requests": len(batch), "error": type(exc).__name__},
                )
                slot.retry.extend(batch)
                self.metrics.isolated_requests.inc(len(batch))
                return False
            log.warning(
                "kafka transaction failed; its requests get 503"
                if not refused
                else "kafka refused a record of a request; it gets 413",
                extra={
                    "slot": slot.index,
                    "requests": len(batch),
                    "messages": messages,
                    "error": f"{type(exc).__name__}: {exc}",
                },
            )
            failure: Exception = (
                RecordRefused("Kafka refused a record of this request as too large")
                if refused
                else KafkaUnavailable("the Kafka transaction failed")
            )
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(failure)
            return False
        self.metrics.write_duration.observe(time.perf_counter() - started)
        self.metrics.transaction_messages.observe(messages)
        for pending in batch:
            if not pending.future.done():
                pending.future.set_result(None)
        return True

    async def _probe_one(self, producer: Any) -> bool:
        try:
            async with asyncio.timeout(self.settings.ingest_kafka_connect_timeout_s):
                await producer.client.fetch_all_metadata()
        except _FAILURES:
            return False
        return True

    @staticmethod
    def _fail(pendings: Sequence[_Pending], reason: str) -> None:
        for pending in pendings:
            if not pending.future.done():
                pending.future.set_exception(KafkaUnavailable(reason))

    def _fail_queued(self, reason: str) -> None:
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(KafkaUnavailable(reason))


@dataclass(frozen=True)
class RetourPage:
    records: list[RetourJSON]
    cursor: Cursor
    more: bool


class RetourReader:
    """Reads one sender's retour records from the partition their key hashes to."""

    def __init__(self, settings: IngestSettings, topic: str) -> None:
        self.settings = settings
        self.topic = topic
        self._consumer: Any = None
        self._lock = asyncio.Lock()
        self._partitions: tuple[int, float] | None = None  # (count, fetched at)

    async def close(self) -> None:
        async with self._lock:
            await self._drop()

    async def _drop(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(*_FAILURES):
                async with asyncio.timeout(2.0):
                    await consumer.stop()

    async def _ensure(self) -> Any:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.settings.kafka_bootstrap,
                client_id="jeugdhub-ingest-retour",
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                isolation_level="read_committed",
                request_timeout_ms=int(max(self.settings.ingest_kafka_read_timeout_s, 1.0) * 1000),
            )
            try:
                await consumer.start()
            except BaseException:
                with contextlib.suppress(*_FAILURES):
                    await consumer.stop()
                raise
            self._consumer = consumer
        return self._consumer

    async def partition_count(self) -> int:
        """The retour topic's partition count (cached for a minute; it only ever grows)."""
        cached = self._partitions
        if cached is not None and time.monotonic() - cached[1] < 60.0:
            return cached[0]
        consumer = await self._ensure()
        cluster = await consumer._client.fetch_all_metadata()
        partitions = cluster.partitions_for_topic(self.topic)
        if not partitions:
            raise KafkaUnavailable(f"topic {self.topic} does not exist")
        self._partitions = (len(partitions), time.monotonic())
        return len(partitions)

    async def sender_partition(self, sender_code: str) -> tuple[int, int]:
        """(partition count, partition) of *sender_code*'s records."""
        try:
            async with self._lock, asyncio.timeout(self.settings.ingest_kafka_read_timeout_s):
                count = await self.partition_count()
        except _FAILURES as exc:
            async with self._lock:
                await self._drop()
            raise KafkaUnavailable(f"cannot read the retour topic: {type(exc).__name__}") from exc
        return count, partition_for(sender_code.encode("utf-8"), count)

    async def read(self, sender_kind: str, sender_code: str, start: Cursor, limit: int) -> RetourPage:
        try:
            async with self._lock, asyncio.timeout(self.settings.ingest_kafka_read_timeout_s):
                return await self._read(sender_kind, sender_code, start, limit)
        except _FAILURES as exc:
            async with self._lock:
                await self._drop()
            raise KafkaUnavailable(f"cannot read the retour topic: {type(exc).__name__}") from exc

    async def _read(self, sender_kind: str, sender_code: str, start: Cursor, limit: int) -> RetourPage:
        consumer = await self._ensure()
        tp = TopicPartition(self.topic, start.partition)
        if consumer.assignment() != {tp}:
            consumer.assign([tp])
        first = (await consumer.beginning_offsets([tp]))[tp]
        end = (await consumer.end_offsets([tp]))[tp]  # the last stable offset under read_committed
        position = max(start.offset, first)
        key = sender_code.encode("utf-8")
        out: list[RetourJSON] = []
        scanned = 0
        if position < end:
            consumer.seek(tp, position)
        while position < end and len(out) < limit and scanned < self.settings.ingest_retour_max_scan:
            batch = await consumer.getmany(
                tp, timeout_ms=200, max_records=min(2000, self.settings.ingest_retour_max_scan)
            )
            messages = batch.get(tp, [])
            if not messages:
                position = max(position, await consumer.position(tp))
                continue
            for message in messages:
                if message.offset < position:
                    continue
                position = message.offset + 1
                scanned += 1
                if message.key == key:
                    record = _retour_json(message.value, sender_kind)
                    if record is not None:
                        out.append(record)
                if len(out) >= limit or scanned >= self.settings.ingest_retour_max_scan:
                    break
        cursor = Cursor(start.partitions, start.partition, position)
        return RetourPage(out, cursor, more=position < end)


def _retour_json(value: bytes | None, sender_kind: str) -> RetourJSON | None:
    if value is None:
        return None
    try:
        record = cast(RetourJSON, record_to_json("Retour", decode("Retour", value)))
    except ContractError:
        log.warning("undecodable record on the retour topic skipped")
        return None
    sender = record.get("sender")
    if isinstance(sender, dict) and sender.get("kind") != sender_kind:
        return None
    return record
