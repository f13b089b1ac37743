"""Refuse to start under another pseudonymisation key than the one the existing state was built with.

A rotated key gives every youth a new pseudonym; mixing both in the validated topic would split each
youth's history in the aggregate. The newest record of every validated partition names its key id.
"""

from __future__ import annotations

from kafka import KafkaConsumer, TopicPartition

from services.contracts.codec import decode
from services.contracts.errors import ContractError
from services.contracts.topics import VALIDATED
from services.privacy.pseudonym import ensure_key_matches_state


def key_ids_at_tail(bootstrap: str, topic: str, timeout_s: float = 10.0) -> set[str]:
    """The ``pseudonym_key_id`` of the last record of each partition (empty for an empty topic)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed",
        consumer_timeout_ms=int(timeout_s * 1000),
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return set()
        consumer.assign(tps)
        ends = consumer.end_offsets(tps)
        wanted = {tp for tp in tps if ends[tp] > 0}
        for tp in wanted:
            consumer.seek(tp, ends[tp] - 1)
        found: set[str] = set()
        pending = set(wanted)
        while pending:
            batch = consumer.poll(timeout_ms=int(timeout_s * 1000))
            if not batch:
                break
            for tp, records in batch.items():
                for record in records:
                    try:
                        found.add(str(decode("ValidatedMessage", record.value)["pseudonym_key_id"]))
                    except ContractError:
                        continue
                pending.discard(tp)
        return found
    finally:
        consumer.close()


def check_key_against_validated_topic(bootstrap: str, prefix: str, active_key_id: str) -> None:
    for key_id in sorted(key_ids_at_tail(bootstrap, VALIDATED.full_name(prefix))):
        ensure_key_matches_state(active_key_id, key_id)
