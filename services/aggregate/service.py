"""The aggregate worker (faust): validated messages in; youth facts and region snapshots out.

Two stages, both upserts, so a replayed or duplicated message cannot change a figure:
1. ``apply`` (partitioned by youth): keeps each youth's accepted messages in a changelog-backed
   table, derives the youth's date-independent facts with :func:`build_youth_facts` and publishes
   them keyed by youth on the compacted youth-facts topic.
2. ``follow_facts`` + ``publish`` (every worker, all partitions): reads the youth-facts topic from
   its beginning into :class:`FiguresState` (latest facts per youth), recomputes the figures when
   something changed or the date moved and sets the Prometheus gauges. One worker at a time, the
   owner of validated partition 0, publishes changed region snapshots (each region at most once per
   interval) through :class:`SnapshotPublisher`, which fences earlier publishers and never
   publishes figures older than those already on the aggregates topic; with them their public
   form (public aggregates topic), and at the end of every day each region's figures as of that
   day (the daily topic, once per key).

The agent, task and timer here only move bytes; what they decide is in plain modules, unit-tested
without a broker: ``apply.py`` (a batch into the table and the facts records), ``follow.py`` (a
youth-facts record into the state) and ``publishing.py`` (whether and what to publish).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.types import TP

from services.aggregate.apply import apply_batch
from services.aggregate.clock import Today, from_file, pinned, today_in
from services.aggregate.erasures import ErasureSweep, install_erasure_sweep
from services.aggregate.follow import FactsFollower
from services.aggregate.forget import forget_youths, tombstones
from services.aggregate.metrics import AggregateMetrics, new_metrics
from services.aggregate.publisher import SnapshotPublisher, partition_ids
from services.aggregate.publishing import PublishRound
from services.aggregate.retention import plan_sweep
from services.aggregate.settings import AggregateSettings
from services.aggregate.state import FiguresState
from services.contracts.regions import RegionTable
from services.contracts.topics import AGGREGATES, AGGREGATES_PUBLIC, FIGURES_DAILY, VALIDATED, YOUTH_FACTS
from services.privacy.erasure_topic import ErasureFollower
from services.privacy.links import LinkFollower
from services.streaming.batches import Record, Routed, send_record_batches
from services.streaming.changelog import send_changelog as send_table_changelog
from services.streaming.changelog import state_table
from services.streaming.delivery import deliver, handle_batches
from services.streaming.faust_app import new_faust_app
from services.streaming.lag import caught_up, update_lag
from services.streaming.partitioner import partition_for
from services.streaming.producer import kafka_producer
from services.streaming.runs import source_topic
from services.streaming.web import add_service_routes, faust_is_ready

log = logging.getLogger("jeugdhub.aggregate")


@dataclass
class AggregateService:
    app: faust.App
    metrics: AggregateMetrics
    state: FiguresState
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    erasures: ErasureSweep | None = None
    applied: dict[int, int] = field(default_factory=dict)
    """Validated partition -> the last offset applied (its outputs acknowledged) since the start."""


def create_app(
    settings: AggregateSettings, regions: RegionTable, today: Today | None = None
) -> AggregateService:
    prefix = settings.topic_prefix
    as_of = _today(settings, today)
    app = new_faust_app(settings, VALIDATED.partitions)
    metrics = new_metrics()
    state = FiguresState(regions, as_of())
    service = AggregateService(app, metrics, state)
    # Delivered as runs: one event per partition per fetch (services/streaming/runs.py).
    validated_topic = source_topic(app, VALIDATED.full_name(prefix))
    facts_topic_name = YOUTH_FACTS.full_name(prefix)
    # youth pseudonym -> {"<sender>:<message_id>": validated message}, keyed and partitioned like the
    # validated topic; one changelog record per youth per batch, sent and awaited with the facts.
    messages_of = state_table(app, "youth-messages", VALIDATED.partitions)
    # The erasure topic, whole, on every worker (services/aggregate/erasures.py): read to its end
    # before the first batch is applied, so no erased youth's message is applied again.
    erasure_follower = ErasureFollower(
        settings.kafka_bootstrap, prefix, fetch_max_wait_ms=settings.fetch_max_wait_ms
    )
    # The key rotation's links, whole, on every worker: the anchor of a pseudonym erased after the
    # old key's retirement (its state's key) is known from them at every start, so a record of the
    # youth re-read after a restart is left out too (docs/privacy.md, "Erasure after the retirement").
    link_follower = LinkFollower(settings.kafka_bootstrap, prefix, settings.fetch_max_wait_ms)

    async def handle(records: list[Any]) -> None:
        await erasure_follower.loaded.wait()
        await link_follower.loaded.wait()
        batch = apply_batch(messages_of, records, regions, erasure_follower.erasures)

        # One record batch per topic-partition through the app's producer (not faust's Topic.send
        # machinery); the changelog and the facts are acknowledged before the batch's offsets can
        # be committed, or the process stops without committing (services/streaming/delivery.py).
        async def send() -> list[Any]:
            producer = kafka_producer(app)
            pending = await messages_of.send(producer, batch.changelog)  # moves the store's offsets
            pending += await send_record_batches(producer, facts_topic_name, batch.facts)
            return pending

        await deliver(send, "aggregate")
        service.applied.update(batch.highest)
        metrics.events_applied.inc(len(records))
        update_lag(app, metrics.lag, validated_topic.get_topic_name(), batch.highest)

    # A batch's apply and the retention sweep never interleave: both read and write the table and
    # send its changelog records, whose order per key decides what a restored table holds.
    table_lock = asyncio.Lock()

    async def handle_locked(records: list[Any]) -> None:
        async with table_lock:
            await handle(records)

    @app.agent(validated_topic, concurrency=1)
    async def apply(stream: Any) -> None:
        await handle_batches(stream, settings.batch_size, settings.batch_within_s, handle_locked, "aggregate")

    service.erasures = install_erasure_sweep(app, erasure_follower, prefix, table_lock, link_follower)
    sweep = RetentionSweep(app, service, settings, regions, validated_topic.get_topic_name(), table_lock)

    @app.timer(interval=1.0)  # type: ignore[untyped-decorator]
    async def retention_sweep() -> None:
        await sweep.tick(as_of())

    @app.task  # type: ignore[untyped-decorator]
    async def follow_facts() -> None:
        await _follow_facts(settings, service)

    publisher = SnapshotPublisher(
        settings.kafka_bootstrap,
        AGGREGATES.full_name(prefix),
        f"{prefix}{settings.app_id}-snapshots",
        metrics,
        settings.publish_interval_s,
        settings.fetch_max_wait_ms,
        public_topic=AGGREGATES_PUBLIC.full_name(prefix),
        daily_topic=FIGURES_DAILY.full_name(prefix),
        history_late_days=settings.history_late_days,
    )
    # The publisher is whoever faust assigned partition 0 of the validated topic (docs/aggregate.md).
    publisher_partition = TP(validated_topic.get_topic_name(), 0)
    rounds = PublishRound(
        state,
        publisher,
        metrics,
        as_of,
        history_late_days=settings.history_late_days,
        baseline=settings.baseline_date,
    )

    def elected() -> bool:
        try:
            return publisher_partition in app.consumer.assignment()
        except Exception:  # the consumer is not running (yet, or any more)
            return False

    @app.timer(interval=min(0.25, settings.publish_interval_s))  # type: ignore[untyped-decorator]
    async def publish() -> None:
        await rounds.tick(service.caught_up.is_set(), elected)

    @app.on_before_shutdown.connect
    async def stop_publishing(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        await publisher.resign("the worker stops")

    add_service_routes(
        app,
        metrics.registry,
        lambda: (
            faust_is_ready(app)
            and service.caught_up.is_set()
            and erasure_follower.loaded.is_set()
            and link_follower.loaded.is_set()
        ),
    )
    return service


class RetentionSweep:
    """Drops expired youth (services/aggregate/retention.py) of the validated partitions this worker
    owns: once per as-of date, the first time after the worker has loaded the figures state and its
    table *and* applied every validated record of its partitions that the broker held (lag 0), so
    at start (after catching up) and whenever the date moves. Without the last condition a restarted
    worker swept before re-reading the records after its last commit: a youth whose newer message
    was among them looked expired and lost its history (found by the fault suite's scenario c). Deletes the youth's table
    entry and writes the tombstones ``forget.py`` gives: the facts' first, acknowledged, then the
    changelog's; every worker's ``FactsFollower`` then removes the youth from its figures."""

    def __init__(
        self,
        app: faust.App,
        service: AggregateService,
        settings: AggregateSettings,
        regions: RegionTable,
        validated_topic: str,
        lock: asyncio.Lock,
    ) -> None:
        self.app, self.service, self.settings, self.regions = app, service, settings, regions
        self.validated_topic = validated_topic
        self.lock = lock
        self.swept: date | None = None

    def owned_partitions(self) -> set[int]:
        try:
            assignment = self.app.consumer.assignment()
        except Exception:  # the consumer is not running (yet, or any more)
            return set()
        return {tp.partition for tp in assignment if tp.topic == self.validated_topic}

    async def tick(self, day: date) -> None:
        if day == self.swept or not (self.service.caught_up.is_set() and faust_is_ready(self.app)):
            return
        owned = self.owned_partitions()
        if not owned:
            return  # not (yet) in the group: sweep once partitions are assigned
        if not caught_up(self.app, self.validated_topic, owned, self.service.applied):
            return  # records of its partitions not yet applied: they may renew a youth
        await self.sweep(day, owned)
        self.swept = day

    async def sweep(self, day: date, owned: set[int]) -> None:
        settings, metrics = self.settings, self.service.metrics
        table: Any = self.app.tables["youth-messages"]
        store = table.data  # the store faust recovers into; ChangelogWriter reads and writes it too
        partitions = VALIDATED.partitions
        async with self.lock:
            started = time.perf_counter()
            plan = plan_sweep(
                self.service.state.facts_items(),
                store.get,
                lambda youth: partition_for(youth.encode(), partitions) in owned,
                self.regions,
                day,
                settings.retention_horizon_days,
                settings.baseline_date,
            )
            forgotten = forget_youths(store, plan.held)
            metrics.retention_sweep_seconds.observe(time.perf_counter() - started)
            facts = cast(list[Record], forgotten.facts + tombstones(plan.orphans).facts)
            changelog = cast(list[Routed], forgotten.changelog)
            if not facts:
                return
            producer = kafka_producer(self.app)
            facts_topic = YOUTH_FACTS.full_name(settings.topic_prefix)

            async def send_facts() -> list[Any]:
                return await send_record_batches(producer, facts_topic, facts)

            async def send_changelog() -> list[Any]:
                return await send_table_changelog(producer, table, changelog)

            # Facts first: a crash before the changelog's tombstones leaves the youth in the table,
            # and the next sweep forgets it again (services/aggregate/forget.py).
            await deliver(send_facts, "aggregate retention")
            if changelog:
                await deliver(send_changelog, "aggregate retention")
        metrics.youth_expired.inc(len(facts))
        log.info(
            "expired youth dropped",
            extra={
                "as_of": day.isoformat(),
                "youth": len(forgotten.youths),
                "messages": forgotten.messages,
                "facts_only": len(plan.orphans),
                "horizon_days": settings.retention_horizon_days,
            },
        )


def _today(settings: AggregateSettings, today: Today | None) -> Today:
    """``JEUGDHUB_AS_OF`` (pinned), ``JEUGDHUB_AS_OF_FILE`` (read every tick), else the clock."""
    if settings.as_of is not None:
        return pinned(settings.as_of)
    if settings.as_of_file is not None:
        return from_file(settings.as_of_file)
    return today or today_in(settings.timezone)


async def _follow_facts(settings: AggregateSettings, service: AggregateService) -> None:
    """Read the compacted youth-facts topic from its beginning, then follow it, into the state."""
    topic = YOUTH_FACTS.full_name(settings.topic_prefix)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        group_id=None,
        isolation_level="read_committed",
        fetch_max_wait_ms=settings.fetch_max_wait_ms,  # see services/streaming/transport.py
    )
    await consumer.start()
    try:
        # aiokafka's consumer only learns partitions of subscribed topics; ask kafka-python instead.
        partitions = await asyncio.to_thread(partition_ids, settings.kafka_bootstrap, topic)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        targets = await consumer.end_offsets(tps)
        follower = FactsFollower(service.state, loading=True)  # each youth's facts derived once
        while True:
            batches = await consumer.getmany(timeout_ms=100, max_records=5000)
            for records in batches.values():
                for record in records:
                    follower.apply(record.partition, record.offset, record.key, record.value)
            if not service.caught_up.is_set():
                positions = {tp: await consumer.position(tp) for tp in tps}
                if all(positions[tp] >= targets[tp] for tp in tps):
                    follower.loaded()
                    service.caught_up.set()
                    log.info("figures state loaded", extra={"youth": service.state.youth_count})
    finally:
        await consumer.stop()
