"""The validate worker: raw topic in; validated, rejected and retour topics out (faust).

The agent only moves bytes: :func:`services.validate.answer.answer_batch` decodes each RawMessage
envelope, asks the pure :func:`services.validate.pipeline.process` for the outcome and stores the
duplicate-table entry; the agent sends the outputs and the table's changelog records. It awaits
every send's acknowledgement before the batch's offsets may be committed (at-least-once); a raw
record processed again after a crash finds its own offset in the duplicate table, produces the same
outputs again (see pipeline/dedup).

The table lives in RocksDB under ``JEUGDHUB_DATA_DIR`` by default (``JEUGDHUB_TABLE_STORE``): the
store takes a batch's entries, with its persisted offset, when their changelog record batches are
acknowledged (:meth:`ChangelogWriter.send`), so a restart reads only the changelog's tail.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import faust

from services.contracts.regions import RegionTable
from services.contracts.topics import LINKS, RAW, REJECTED, RETOUR, VALIDATED
from services.privacy.erasure_topic import ErasureFollower
from services.privacy.links import LinkFollower
from services.privacy.pseudonym import Keyring
from services.streaming.batches import Record, Routed, send_record_batches
from services.streaming.changelog import ChangelogWriter, state_table
from services.streaming.delivery import deliver, handle_batches
from services.streaming.faust_app import new_faust_app
from services.streaming.lag import update_lag
from services.streaming.producer import kafka_producer
from services.streaming.runs import source_topic
from services.streaming.web import add_service_routes, faust_is_ready
from services.validate.answer import OutputTopics, answer_batch
from services.validate.metrics import ValidateMetrics, new_metrics
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
    # Delivered as runs: one event per partition per fetch (services/streaming/runs.py).
    raw_topic = source_topic(app, RAW.full_name(prefix))
    out = OutputTopics(
        VALIDATED.full_name(prefix),
        REJECTED.full_name(prefix),
        RETOUR.full_name(prefix),
        LINKS.full_name(prefix),
    )
    # "<sender>:<message_id>" -> DedupEntry, keyed and partitioned like the raw topic; its changelog
    # records go out with the batch's outputs and are awaited with them.
    dedup = state_table(app, "dedup", RAW.partitions)
    # The erasure topic, read to its end before the first message is judged and followed after
    # (services/privacy/erasure_topic.py): an erased youth's messages are refused (JH050).
    erasures = ErasureFollower(settings.kafka_bootstrap, prefix, fetch_max_wait_ms=settings.fetch_max_wait_ms)

    # The key rotation's links (services/privacy/links.py), read to their end before the first
    # message is judged: after the old key's retirement they keep linked youth on their anchors.
    links = LinkFollower(settings.kafka_bootstrap, prefix, fetch_max_wait_ms=settings.fetch_max_wait_ms)

    @app.task  # type: ignore[untyped-decorator]
    async def follow_erasures() -> None:
        await erasures.run()

    @app.task  # type: ignore[untyped-decorator]
    async def follow_links() -> None:
        await links.run()

    async def handle(records: list[Any]) -> None:
        await erasures.loaded.wait()
        await links.loaded.wait()
        batch = answer_batch(out, records, dedup, keyring, regions, erasures.erasures, links.links)
        changelog = dedup.drain()
        await deliver(lambda: send_outputs(app, batch.records, dedup, changelog), "validate")
        try:
            now_ms = time.time() * 1000.0
            observe = metrics.latency.observe
            for record in records:  # aiokafka records: timestamps in milliseconds
                observe(max(0.0, now_ms - record.timestamp) / 1000.0)
            batch.counts.record(metrics)
            metrics.messages_in.inc(len(records))
            metrics.batch_size.observe(len(records))
            metrics.dedup_entries.set(len(dedup))
            update_lag(app, metrics.lag, raw_topic.get_topic_name(), batch.highest)
        except Exception:  # the outputs are out; a metric must not stop the worker
            log.exception("metrics of a batch not recorded")

    @app.agent(raw_topic, concurrency=1)
    async def validate(stream: Any) -> None:
        await handle_batches(stream, settings.batch_size, settings.batch_within_s, handle, "validate")

    add_service_routes(
        app,
        metrics.registry,
        lambda: faust_is_ready(app) and erasures.loaded.is_set() and links.loaded.is_set(),
    )
    return ValidateService(app, metrics)


async def send_outputs(
    app: faust.App, batch: dict[str, list[Record]], dedup: ChangelogWriter, changelog: list[Routed]
) -> list[Awaitable[Any]]:
    """Queue every output record and the table's changelog records of this batch (see
    ChangelogWriter); the futures resolve when Kafka acknowledged them (acks=all). The changelog's
    acknowledgements move the RocksDB store's persisted offsets (:meth:`ChangelogWriter.send`).

    One record batch per topic-partition (:func:`send_record_batches`) through the app's producer,
    not faust's per-record ``Topic.send`` (codecs, FutureMessage, sensors): the values are bytes
    already and the partitions are the default partitioner's either way, so the records are the same.
    """
    producer = kafka_producer(app)
    pending: list[Awaitable[Any]] = []
    for topic, records in batch.items():
        if records:
            pending.extend(await send_record_batches(producer, topic, records))
    pending.extend(await dedup.send(producer, changelog))
    return pending
