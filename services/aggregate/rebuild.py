"""``jeugdhub rebuild``: recompute every youth's facts from the validated topic's whole history.

The validated topic keeps its history (it holds no BSNs) precisely so that, after a definition is
corrected (``FACTS_VERSION`` bumped), the figures can be rebuilt from the beginning. This reads the
topic to its current end, derives facts per youth with the same functions as the worker and
replay, optionally republishes them as upserts on the youth-facts topic (the running aggregate
picks them up), and returns the figures document.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from services.aggregate.apply import is_left_out
from services.aggregate.facts import build_youth_facts
from services.aggregate.figures import region_figures
from services.aggregate.records import facts_record, message_key
from services.contracts.canonical import validated_to_json
from services.contracts.codec import decode
from services.contracts.regions import RegionTable
from services.contracts.topics import VALIDATED, YOUTH_FACTS
from services.privacy.erasure_topic import read_erasures

Progress = Callable[[int], None]


def read_validated(
    bootstrap: str, prefix: str, progress: Progress | None = None
) -> dict[str, dict[str, Any]]:
    """youth -> {message key -> message}, the accepted messages up to the topic's current end.

    Messages of a youth erased on request are left out, as the aggregate does (the erasure topic
    is read first, to its end; services/privacy/erasure.py).
    """
    erasures = read_erasures(bootstrap, prefix)
    topic = VALIDATED.full_name(prefix)
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    by_youth: dict[str, dict[str, Any]] = defaultdict(dict)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        read = 0
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for records in consumer.poll(timeout_ms=1000, max_records=10_000).values():
                for record in records:
                    message = validated_to_json(decode("ValidatedMessage", record.value))
                    youth = record.key.decode() if record.key else message["youth_pseudonym"]
                    if is_left_out(erasures, youth, message):
                        continue
                    by_youth[message["youth_pseudonym"]][message_key(message)] = message
                read += len(records)
            if progress is not None:
                progress(read)
        return by_youth
    finally:
        consumer.close()


def rebuild(
    bootstrap: str,
    prefix: str,
    regions: RegionTable,
    as_of: date,
    publish: bool,
    progress: Progress | None = None,
) -> dict[str, Any]:
    by_youth = read_validated(bootstrap, prefix, progress)
    facts = {youth: build_youth_facts(messages.values(), regions) for youth, messages in by_youth.items()}
    if publish:
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
        try:
            for youth, youth_facts in facts.items():
                value = facts_record(youth, youth_facts, len(by_youth[youth]))
                producer.send(YOUTH_FACTS.full_name(prefix), key=youth.encode(), value=value)
            producer.flush()
        finally:
            producer.close()
    return {
        "as_of": as_of.isoformat(),
        "accepted": sum(len(messages) for messages in by_youth.values()),
        "youth": len(facts),
        "regions": region_figures(facts.values(), as_of, regions),
    }
