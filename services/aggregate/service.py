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
from dataclasses import dataclass, field
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.types import TP

from services.aggregate.apply import apply_batch
from services.aggregate.clock import Today, from_file, pinned, today_in
from services.aggregate.follow import FactsFollower
from services.aggregate.metrics import AggregateMetrics, new_metrics
from services.aggregate.publisher import SnapshotPublisher, partition_ids
from services.aggregate.publishing import PublishRound
from services.aggregate.settings import AggregateSettings
from services.aggregate.state import FiguresState
from services.contracts.regions import RegionTable
from services.contracts.topics import AGGREGATES, AGGREGATES_PUBLIC, FIGURES_DAILY, VALIDATED, YOUTH_FACTS
from services.streaming.batches import send_record_batches, send_routed_batches
from services.streaming.changelog import state_table
from services.streaming.delivery import deliver, handle_batches
from services.streaming.faust_app import new_faust_app
from services.streaming.lag import update_lag
from services.streaming.producer import kafka_producer
from services.streaming.web import add_service_routes, faust_is_ready

log = logging.getLogger("jeugdhub.aggregate")


@dataclass
class AggregateService:
    app: faust.App
    metrics: AggregateMetrics
    state: FiguresState
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)


def create_app(
    settings: AggregateSettings, regions: RegionTable, today: Today | None = None
) -> AggregateService:
    prefix = settings.topic_prefix
    as_of = _today(settings, today)
    app = new_faust_app(settings, VALIDATED.partitions)
    metrics = new_metrics()
    state = FiguresState(regions, as_of())
    service = AggregateService(app, metrics, state)
    validated_topic = app.topic(
        VALIDATED.full_name(prefix),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    facts_topic_name = YOUTH_FACTS.full_name(prefix)
    # youth pseudonym -> {"<sender>:<message_id>": validated message}, keyed and partitioned like the
    # validated topic; one changelog record per youth per batch, sent and awaited with the facts.
    messages_of = state_table(app, "youth-messages", VALIDATED.partitions)

    async def handle(events: list[Any]) -> None:
        batch = apply_batch(messages_of, [event.message for event in events], regions)

        # One record batch per topic-partition through the app's producer (not faust's Topic.send
        # machinery); the changelog and the facts are acknowledged before the batch's offsets can
        # be committed, or the process stops without committing (services/streaming/delivery.py).
        async def send() -> list[Any]:
            producer = kafka_producer(app)
            pending = await send_routed_batches(producer, messages_of.topic, batch.changelog)
            pending += await send_record_batches(producer, facts_topic_name, batch.facts)
            return pending

        await deliver(send, "aggregate")
        metrics.events_applied.inc(len(events))
        update_lag(app, metrics.lag, validated_topic.get_topic_name(), batch.highest)

    @app.agent(validated_topic, concurrency=1)
    async def apply(stream: Any) -> None:
        await handle_batches(stream, settings.batch_size, settings.batch_within_s, handle, "aggregate")

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

    add_service_routes(app, metrics.registry, lambda: faust_is_ready(app) and service.caught_up.is_set())
    return service


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
        follower = FactsFollower(service.state)
        while True:
            batches = await consumer.getmany(timeout_ms=100, max_records=5000)
            for records in batches.values():
                for record in records:
                    follower.apply(record.partition, record.offset, record.key, record.value)
            if not service.caught_up.is_set():
                positions = {tp: await consumer.position(tp) for tp in tps}
                if all(positions[tp] >= targets[tp] for tp in tps):
                    service.caught_up.set()
                    log.info("figures state loaded", extra={"youth": service.state.youth_count})
    finally:
        await consumer.stop()
