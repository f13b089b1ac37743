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
   publishes figures older than those already on the aggregates topic.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import faust
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.types import TP

from services.aggregate.clock import Today, pinned, today_in
from services.aggregate.facts import YouthFacts, build_youth_facts
from services.aggregate.metrics import AggregateMetrics, new_metrics
from services.aggregate.publisher import SnapshotPublisher, partition_ids
from services.aggregate.records import facts_record, message_key
from services.aggregate.settings import AggregateSettings
from services.aggregate.state import FiguresState
from services.contracts.canonical import validated_to_json
from services.contracts.codec import decode
from services.contracts.errors import ContractError
from services.contracts.regions import RegionTable
from services.contracts.topics import AGGREGATES, VALIDATED, YOUTH_FACTS
from services.streaming.batches import Record, send_record_batches, send_routed_batches
from services.streaming.changelog import state_table
from services.streaming.delivery import deliver, handle_batches
from services.streaming.faust_app import new_faust_app
from services.streaming.lag import update_lag
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
    as_of = pinned(settings.as_of) if settings.as_of else (today or today_in(settings.timezone))
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
        # Facts are republished for every youth the batch touches, not only for changed ones: after a
        # crash between the changelog record and the facts record (or a fenced-out worker that
        # wrote only the first), the re-read message is already in the table, and its facts would
        # otherwise never be published. Facts are upserts, so a repeat changes no figure.
        touched: set[str] = set()
        for event in events:
            try:
                message = validated_to_json(decode("ValidatedMessage", event.message.value))
                youth = message["youth_pseudonym"]
                stored: dict[str, Any] = dict(messages_of.get(youth) or {})
                key = message_key(message)
            except Exception as exc:  # one bad record must not cost the batch (delivery.py)
                log.error(
                    "undecodable validated record skipped",
                    extra={"error": f"{type(exc).__name__}: {exc}"[:300], "offset": event.message.offset},
                )
                continue
            if stored.get(key) != message:
                stored[key] = message
                messages_of.set(youth, stored)
            touched.add(youth)
        highest: dict[int, int] = {}
        for event in events:
            partition, offset = event.message.partition, event.message.offset
            highest[partition] = max(highest.get(partition, -1), offset)
        facts_records: list[Record] = []
        for youth in touched:
            messages = list(messages_of.get(youth).values())
            try:
                facts = build_youth_facts(messages, regions)
            except Exception:  # a bug for this youth; the messages stay stored, the next one retries
                log.exception("youth facts not derived", extra={"messages": len(messages)})
                continue
            facts_records.append((youth.encode(), facts_record(youth, facts, len(messages))))
        # One record batch per topic-partition through the app's producer (not faust's Topic.send
        # machinery); the changelog and the facts are acknowledged before the batch's offsets can
        # be committed, or the process stops without committing (services/streaming/delivery.py).
        changelog = messages_of.drain()

        async def send() -> list[Any]:
            producer = app.producer._ensure_producer()  # type: ignore[attr-defined]
            pending = await send_routed_batches(producer, messages_of.topic, changelog)
            pending += await send_record_batches(producer, facts_topic_name, facts_records)
            return pending

        await deliver(send, "aggregate")
        metrics.events_applied.inc(len(events))
        update_lag(app, metrics.lag, validated_topic.get_topic_name(), highest)

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
    )
    # The publisher is whoever faust assigned partition 0 of the validated topic (docs/aggregate.md).
    publisher_partition = TP(validated_topic.get_topic_name(), 0)
    rows: list[dict[str, Any]] = []
    computed_version = -1
    published_version = -1
    retry_at = 0.0

    def elected() -> bool:
        try:
            return publisher_partition in app.consumer.assignment()
        except Exception:  # the consumer is not running (yet, or any more)
            return False

    def recompute() -> None:
        """Rows and gauges for the state's current version (synchronous: no upsert in between)."""
        nonlocal rows, computed_version
        if state.version == computed_version:
            return
        started = time.perf_counter()
        version = state.version
        rows = state.rows()
        metrics.recompute_seconds.observe(time.perf_counter() - started)
        metrics.set_figures(rows)
        metrics.youth_tracked.set(state.youth_count)
        computed_version = version

    @app.timer(interval=min(0.25, settings.publish_interval_s))  # type: ignore[untyped-decorator]
    async def publish() -> None:
        nonlocal published_version, retry_at
        if not service.caught_up.is_set():
            return
        state.set_as_of(as_of())
        recompute()
        if not elected():
            await publisher.resign("validated partition 0 is not assigned to this worker")
            return
        now = time.monotonic()
        if not publisher.active:
            if now < retry_at:
                return
            try:
                await publisher.take_over()
            except Exception as exc:
                retry_at = time.monotonic() + 1.0
                log.warning("taking over snapshot publishing failed", extra={"error": repr(exc)})
                return
            published_version = -1
            recompute()  # the state moved on during the take-over's awaits
        if computed_version == published_version and not publisher.throttle.pending:
            return
        # Rows depend only on the state's version, so the position read now (same version, no await
        # in between) is the position these rows reflect.
        version, position = computed_version, state.position()
        try:
            await publisher.publish(rows, position, datetime.now(UTC).replace(microsecond=0), now)
        except Exception as exc:
            retry_at = time.monotonic() + 1.0
            log.warning(
                "publishing region snapshots failed; will take over again", extra={"error": repr(exc)}
            )
            return
        published_version = version

    @app.on_before_shutdown.connect
    async def stop_publishing(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        await publisher.resign("the worker stops")

    add_service_routes(app, metrics.registry, lambda: faust_is_ready(app) and service.caught_up.is_set())
    return service


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
        stale = 0
        while True:
            batches = await consumer.getmany(timeout_ms=100, max_records=5000)
            for records in batches.values():
                for record in records:
                    service.state.read_up_to(record.partition, record.offset)
                    youth = record.key.decode()
                    if record.value is None:
                        service.state.remove(youth)
                        continue
                    try:
                        value = decode("YouthFactsRecord", record.value)
                        facts = YouthFacts.from_dict(orjson.loads(value["facts_json"]))
                    except (ContractError, ValueError) as exc:
                        stale += 1
                        if stale in (1, 100, 10_000):
                            log.warning(
                                "youth facts not usable (run jeugdhub rebuild --publish)",
                                extra={"error": str(exc), "count": stale},
                            )
                        continue
                    service.state.upsert(youth, facts, value["messages_applied"])
            if not service.caught_up.is_set():
                positions = {tp: await consumer.position(tp) for tp in tps}
                if all(positions[tp] >= targets[tp] for tp in tps):
                    service.caught_up.set()
                    log.info("figures state loaded", extra={"youth": service.state.youth_count})
    finally:
        await consumer.stop()
