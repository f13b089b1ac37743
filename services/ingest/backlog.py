"""The I/O shell of backpressure: measure the pipeline's backlog, publish it, decide admission.

Every ``JEUGDHUB_INGEST_BACKLOG_INTERVAL_S`` a background task reads, for each stage (validate on
the raw topic, aggregate on the validated topic), its consumer group's committed offsets (an admin
OffsetFetch), the partitions' log-start and last stable offsets, and the offset and timestamp of
the first record at or after each lagging partition's committed offset. The arithmetic (and how
transaction markers are told apart from records) is
:mod:`services.streaming.backlog`. The result feeds the gauges and the admission verdict that
``POST /v1/messages`` consults without any I/O of its own.

The first unprocessed record is found without reading any record: only validate may read the raw
topic (it holds BSNs; ``tests/unit/deploy`` checks the ACLs). Kafka's ListOffsets by timestamp
answers "the first offset whose timestamp is >= T, and that timestamp"; that offset only grows
with T, so a binary search over T finds the smallest T whose answer is at or past the committed
offset, and the answer is the first unprocessed record (exactly when timestamps grow with offsets;
with producers' clocks apart, a record stamped earlier than an already processed one can be passed
over, so the age is low by at most that skew). About 40 ListOffsets round trips per search, all
lagging partitions in each, at most two searches per measurement; ingest needs Describe on the
topics and groups, never Read.

Failure policy: when the backlog cannot be measured (Kafka away, a topic missing), admission stays
open after ``3 × interval`` without a measurement — the writer's own 503 covers an unreachable Kafka,
and refusing every message because a gauge is unknown would turn a monitoring fault into an outage.
Failures are logged once per streak, not once per attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from services.ingest.metrics import IngestMetrics
from services.ingest.settings import IngestSettings
from services.streaming.backlog import (
    OPEN,
    Admission,
    FirstRecord,
    PartitionOffsets,
    Search,
    StageBacklog,
    admission,
    first_unprocessed,
    stage_backlog,
)

log = logging.getLogger("jeugdhub.ingest.backlog")

_FAILURES = (KafkaError, TimeoutError, OSError, AssertionError, RuntimeError, ValueError)
_CLOCK_SKEW_MS = 24 * 3600 * 1000
"""How far ahead of this clock a record's timestamp may be and still be found by the search."""


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    topic: str
    group: str
    transactional: bool
    """Written only in transactions (a commit marker ends each one in every partition it wrote)."""


class BacklogSource(Protocol):
    """What the handlers need: the current verdict (no I/O), and a lifecycle."""

    def admission(self) -> Admission: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class NoBacklog:
    """Always admits: used with a fake writer (HTTP-only tests) where no Kafka exists."""

    def admission(self) -> Admission:
        return OPEN

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


def hub_stages(settings: IngestSettings) -> tuple[Stage, ...]:
    from services.contracts.topics import RAW, VALIDATED

    prefix = settings.topic_prefix
    return (
        Stage("validate", RAW.full_name(prefix), f"{prefix}{settings.ingest_validate_group}", True),
        Stage("aggregate", VALIDATED.full_name(prefix), f"{prefix}{settings.ingest_aggregate_group}", False),
    )


class BacklogMonitor:
    """Measures the stages' backlog in the background; see the module docstring."""

    def __init__(self, settings: IngestSettings, metrics: IngestMetrics, stages: Sequence[Stage]) -> None:
        self.settings = settings
        self.metrics = metrics
        self.stages = tuple(stages)
        self._verdict: Admission = OPEN
        self._measured_at: float | None = None  # monotonic
        self._failing = False
        self._task: asyncio.Task[None] | None = None
        self._admin: Any = None
        self._consumer: Any = None
        self.last: tuple[StageBacklog, ...] = ()
        metrics.admission_open.set(1)

    def admission(self) -> Admission:
        measured = self._measured_at
        if measured is None or time.monotonic() - measured > 3 * self.settings.ingest_backlog_interval_s:
            return OPEN  # unknown backlog: fail open (module docstring)
        return self._verdict

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ingest-backlog")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._drop()

    async def measure_once(self) -> tuple[StageBacklog, ...]:
        """One measurement, published to the gauges and the verdict (the loop's body; tests call it)."""
        timeout = max(self.settings.ingest_backlog_interval_s, self.settings.ingest_kafka_read_timeout_s)
        async with asyncio.timeout(timeout):
            backlogs = await self._measure()
        self._publish(backlogs)
        return backlogs

    # -- loop --------------------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            try:
                await self.measure_once()
            except _FAILURES as exc:
                await self._drop()
                if not self._failing:
                    self._failing = True
                    log.warning(
                        "pipeline backlog not measured; admission stays open while unknown",
                        extra={"error": f"{type(exc).__name__}: {exc}"},
                    )
            else:
                if self._failing:
                    self._failing = False
                    log.info("pipeline backlog measured again")
            await asyncio.sleep(self.settings.ingest_backlog_interval_s)

    def _publish(self, backlogs: tuple[StageBacklog, ...]) -> None:
        s = self.settings
        for backlog in backlogs:
            self.metrics.backlog_messages.labels(backlog.stage).set(backlog.messages)
            self.metrics.backlog_age.labels(backlog.stage).set(backlog.oldest_age_s)
        self.metrics.backlog_measured.set(time.time())
        verdict = admission(backlogs, s.ingest_admission_max_lag_messages, s.ingest_admission_max_staleness_s)
        if verdict.open != self._verdict.open:
            if verdict.open:
                log.info("pipeline caught up: admitting messages again")
            else:
                log.warning(
                    "pipeline behind: refusing new messages with 503", extra={"reason": verdict.reason}
                )
        self._verdict = verdict
        self._measured_at = time.monotonic()
        self.last = backlogs
        self.metrics.admission_open.set(1 if verdict.open else 0)

    # -- Kafka -------------------------------------------------------------------------------------
    async def _clients(self) -> tuple[Any, Any]:
        s = self.settings
        if self._admin is None:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=s.kafka_bootstrap,
                client_id="jeugdhub-ingest-backlog",
                request_timeout_ms=int(s.ingest_kafka_read_timeout_s * 1000),
            )
            try:
                await admin.start()
            except BaseException:
                with contextlib.suppress(*_FAILURES):
                    await admin.close()
                raise
            self._admin = admin
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=s.kafka_bootstrap,
                client_id="jeugdhub-ingest-backlog",
                group_id=None,
                enable_auto_commit=False,
                isolation_level="read_committed",  # ListOffsets answers nothing past the LSO
                request_timeout_ms=int(max(s.ingest_kafka_read_timeout_s, 1.0) * 1000),
            )
            try:
                await consumer.start()
            except BaseException:
                with contextlib.suppress(*_FAILURES):
                    await consumer.stop()
                raise
            self._consumer = consumer
        return self._admin, self._consumer

    async def _drop(self) -> None:
        admin, self._admin = self._admin, None
        consumer, self._consumer = self._consumer, None
        if admin is not None:
            with contextlib.suppress(*_FAILURES):
                async with asyncio.timeout(2.0):
                    await admin.close()
        if consumer is not None:
            with contextlib.suppress(*_FAILURES):
                async with asyncio.timeout(2.0):
                    await consumer.stop()

    async def _measure(self) -> tuple[StageBacklog, ...]:
        admin, consumer = await self._clients()
        cluster = await consumer._client.fetch_all_metadata()
        per_stage: list[tuple[Stage, list[PartitionOffsets]]] = []
        for stage in self.stages:
            numbers = cluster.partitions_for_topic(stage.topic)
            if not numbers:
                continue  # not created yet: nothing can be behind on it
            tps = [TopicPartition(stage.topic, p) for p in sorted(numbers)]
            committed = await admin.list_consumer_group_offsets(stage.group, partitions=tps)
            starts = await consumer.beginning_offsets(tps)
            ends = await consumer.end_offsets(tps)
            offsets = []
            for tp in tps:
                meta = committed.get(tp)
                mine = None if meta is None or meta.offset < 0 else int(meta.offset)
                offsets.append(
                    PartitionOffsets(tp.partition, mine, starts[tp], ends[tp], stage.transactional)
                )
            per_stage.append((stage, offsets))
        lagging = {
            TopicPartition(stage.topic, p.partition): p
            for stage, offsets in per_stage
            for p in offsets
            if p.behind
        }
        at = await self._search(consumer, {tp: p.position for tp, p in lagging.items()})
        ambiguous = {
            tp: p.position + 1
            for tp, p in lagging.items()
            if p.transactional
            and tp in at
            and (answer := at[tp].answer) is not None
            and answer.offset == p.position
        }
        after = await self._search(consumer, ambiguous)
        now_ms = int(time.time() * 1000)
        out = []
        for stage, offsets in per_stage:
            resolved = []
            for p in offsets:
                tp = TopicPartition(stage.topic, p.partition)
                first = (
                    first_unprocessed(p.position, p.end, p.transactional, at[tp], after.get(tp))
                    if tp in at
                    else None
                )
                resolved.append(
                    PartitionOffsets(p.partition, p.committed, p.log_start, p.end, p.transactional, first)
                )
            out.append(stage_backlog(stage.name, resolved, now_ms))
        return tuple(out)

    async def _search(
        self, consumer: Any, positions: dict[TopicPartition, int]
    ) -> dict[TopicPartition, Search]:
        """For each partition, the first offset at or after its position by timestamp (:class:`Search`):
        binary search for the smallest timestamp T whose ListOffsets answer is at or past the position
        (or none). Answers only grow with T, so the search is sound whatever the timestamps' order."""
        if not positions:
            return {}
        high = int(time.time() * 1000) + _CLOCK_SKEW_MS
        low = dict.fromkeys(positions, 0)
        upper: dict[TopicPartition, int] = {}
        best: dict[TopicPartition, Any] = {}
        for tp, answer in (await consumer.offsets_for_times(dict.fromkeys(positions, high))).items():
            if answer is None or answer.offset >= positions[tp]:
                upper[tp], best[tp] = high, answer
            # else: a record stamped beyond the skew allowance: not searched (counted by offsets)
        searching = {tp for tp in upper if low[tp] < upper[tp]}
        while searching:
            middle = {tp: (low[tp] + upper[tp]) // 2 for tp in searching}
            answers = await consumer.offsets_for_times(middle)
            for tp in list(searching):
                answer = answers.get(tp)
                if answer is None or answer.offset >= positions[tp]:
                    upper[tp], best[tp] = middle[tp], answer
                else:
                    low[tp] = middle[tp] + 1
                if low[tp] >= upper[tp]:
                    searching.discard(tp)
        return {
            tp: Search(
                None if answer is None else FirstRecord(int(answer.offset), int(answer.timestamp)),
                upper[tp] - 1,
            )
            for tp, answer in best.items()
        }
