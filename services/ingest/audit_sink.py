"""The Kafka shell of the access records that are not part of a raw-topic transaction.

An accepted post's access record travels in the post's own transaction (``kafka.RawWriter``). The
others go through :class:`KafkaAuditSink`, an idempotent producer (``acks=all``) of its own:

``write`` (``GET /v1/retour`` answered 200)
    Awaited until Kafka acknowledged the record, *before* the page is sent: retours are data the
    hub discloses, and a disclosure without its record is what an access log must rule out. When
    the record cannot be written the read is answered 503 (fail closed).

``offer`` (every refusal: 401, 403, 413, 429, 400, 404, 503, ...)
    Best effort, never awaited: the record joins a bounded in-memory queue that a background task
    hands to the producer. A refusal stored and disclosed nothing, and holding it back (or turning
    it into a 503) for the sake of its log line would let a Kafka outage or a flood of bad requests
    slow down every answer. Records queued while Kafka is away are written when it returns; what
    cannot be (queue full, Kafka error, shutdown) is counted in
    ``jeugdhub_ingest_audit_records_lost_total{reason}`` and logged once per streak, so a gap in
    the audit log is itself on record (the refusal's own log line carries the same request id).

A failed send throws the producer away and a new one is made (the idempotent producer's sequence
numbers are not worth repairing), with back-off, as the raw writer does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from services.ingest.audit import AccessRecord, encode_access
from services.ingest.kafka import discard_producer
from services.ingest.metrics import IngestMetrics
from services.ingest.settings import IngestSettings
from services.streaming.batches import Record

log = logging.getLogger("jeugdhub.ingest.audit")

_FAILURES = (KafkaError, TimeoutError, OSError, AssertionError, RuntimeError)
_MAX_BACKOFF_S = 5.0
_CLOSE_FLUSH_S = 2.0


class AuditUnavailable(Exception):
    """An access record that must be written before answering could not be."""


class AuditSink(Protocol):
    """What the handlers need for access records outside the raw-topic transaction."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def offer(self, record: AccessRecord) -> None:
        """Best effort: queue *record*; never blocks, never raises."""

    async def write(self, record: AccessRecord) -> None:
        """Return once *record* is acknowledged by Kafka; raise :class:`AuditUnavailable` otherwise."""


class DiscardAudit:
    """Writes nothing: used with a fake raw writer (HTTP-only tests) where no Kafka exists."""

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def offer(self, record: AccessRecord) -> None:
        return None

    async def write(self, record: AccessRecord) -> None:
        return None


class KafkaAuditSink:
    """Idempotent producer of access records; see the module docstring."""

    def __init__(self, settings: IngestSettings, metrics: IngestMetrics, topic: str) -> None:
        self.settings = settings
        self.metrics = metrics
        self.topic = topic
        self._queue: asyncio.Queue[Record] = asyncio.Queue(maxsize=settings.ingest_audit_queue)
        self._producer: Any = None
        self._broken = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._losing = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ingest-audit")

    async def close(self) -> None:
        """Hand what is queued to Kafka (for up to 2 s), count the rest as lost, stop."""
        self._closing = True
        producer = self._producer
        if producer is not None and not self._broken.is_set():
            with contextlib.suppress(*_FAILURES):
                async with asyncio.timeout(_CLOSE_FLUSH_S):
                    while not self._queue.empty():
                        await self._send(producer, self._queue.get_nowait())
                    await producer.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        left = self._queue.qsize()
        if left:
            self._lost("shutdown", left)
        await self._discard(self._producer)
        self._producer = None

    # -- the two deliveries ------------------------------------------------------------------------
    def offer(self, record: AccessRecord) -> None:
        if self._closing:
            self._lost("shutdown")
            return
        try:
            encoded = encode_access(record)
        except Exception as exc:  # access_record() makes records that encode; never let one stop a refusal
            log.error("access record not encodable", extra={"error": type(exc).__name__})
            self._lost("invalid")
            return
        try:
            self._queue.put_nowait(encoded)
        except asyncio.QueueFull:
            self._lost("queue_full")

    async def write(self, record: AccessRecord) -> None:
        producer = self._producer
        if producer is None or self._broken.is_set():
            raise AuditUnavailable("the audit producer is not connected")
        key, value = encode_access(record)
        try:
            async with asyncio.timeout(self.settings.ingest_kafka_write_timeout_s):
                await (await producer.send(self.topic, value, key=key))
        except _FAILURES as exc:
            self._broken.set()
            raise AuditUnavailable(f"the access record was not acknowledged: {type(exc).__name__}") from exc
        self.metrics.child("audit_written", "acknowledged").inc()

    # -- background --------------------------------------------------------------------------------
    async def _run(self) -> None:
        backoff = 0.2
        while not self._closing:
            try:
                producer = await self._connect()
            except _FAILURES as exc:
                log.warning(
                    "audit producer not connected",
                    extra={"error": f"{type(exc).__name__}: {exc}", "retry_s": backoff},
                )
                await asyncio.sleep(backoff)
                backoff = min(_MAX_BACKOFF_S, backoff * 2)
                continue
            backoff = 0.2
            self._broken.clear()
            self._producer = producer
            log.info("audit producer ready")
            try:
                await self._drain(producer)
            finally:
                self._producer = None
                await self._discard(producer)

    async def _connect(self) -> Any:
        s = self.settings
        producer = AIOKafkaProducer(
            bootstrap_servers=s.kafka_bootstrap,
            client_id="jeugdhub-ingest-audit",
            enable_idempotence=True,
            acks="all",
            request_timeout_ms=int(s.ingest_kafka_write_timeout_s * 1000),
            linger_ms=0,
        )
        try:
            async with asyncio.timeout(s.ingest_kafka_connect_timeout_s):
                await producer.start()
                await producer.partitions_for(self.topic)
        except BaseException:
            await self._discard(producer)
            raise
        return producer

    async def _drain(self, producer: Any) -> None:
        """Hand queued records to *producer* until a send fails (then the producer is replaced)."""
        broken = asyncio.create_task(self._broken.wait())
        try:
            while not self._closing:
                get = asyncio.create_task(self._queue.get())
                done, _ = await asyncio.wait({get, broken}, return_when=asyncio.FIRST_COMPLETED)
                if get not in done:
                    get.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        record = await get
                        self._requeue(record)
                    return
                try:
                    await self._send(producer, get.result())
                except _FAILURES:
                    self._broken.set()
                    return
                except asyncio.CancelledError:  # closing while this record was being handed over
                    self._lost("shutdown")
                    raise
        finally:
            broken.cancel()

    async def _send(self, producer: Any, record: Record) -> None:
        key, value = record
        try:
            future = await producer.send(self.topic, value, key=key)
        except _FAILURES as exc:
            self._failed(exc)
            raise
        future.add_done_callback(self._delivered)

    def _delivered(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            self._lost("shutdown")
            return
        exc = future.exception()
        if exc is not None:
            self._failed(exc)
            self._broken.set()
            return
        self.metrics.child("audit_written", "best_effort").inc()
        if self._losing:
            self._losing = False
            log.info("access records of refused requests are written again")

    def _requeue(self, record: Record) -> None:
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self._lost("queue_full")

    def _failed(self, exc: BaseException) -> None:
        self._lost("kafka_error", error=f"{type(exc).__name__}: {exc}")

    def _lost(self, reason: str, count: int = 1, error: str | None = None) -> None:
        self.metrics.child("audit_lost", reason).inc(count)
        if not self._losing:
            self._losing = True
            log.warning(
                "access records of refused requests lost; counting them until they are written again",
                extra={"reason": reason, "records": count, "error": error},
            )

    async def _discard(self, producer: Any) -> None:
        await discard_producer(producer, self._closing, "audit producer")
