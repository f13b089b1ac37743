"""Raw records written in Kafka transactions for integration tests; the messages, raw records and
expanded feeds themselves are ``hubdev.records``' (shared with the unit and fault tests and bench/)."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

from kafka import KafkaProducer

from hubdev.records import expand_feed, placement, raw_record, raw_records, valid_bsn

__all__ = ["expand_feed", "placement", "raw_record", "raw_records", "valid_bsn", "write_in_transactions"]


def write_in_transactions(
    bootstrap: str, topic: str, transactions: int, per_transaction: int, seed: int
) -> int:
    """Raw records written like ingest does: in Kafka transactions (a commit marker after each
    transaction's records in every partition it touched), each spread over the partitions by key."""
    rng = random.Random(seed)
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        transactional_id=f"it-tx-{uuid.uuid4().hex[:8]}",
        enable_idempotence=True,
        acks="all",
    )
    try:
        producer.init_transactions()
        for _ in range(transactions):
            producer.begin_transaction()
            for _ in range(per_transaction):
                birth = date(2008, 1, 1) + timedelta(days=rng.randrange(3000))
                key, value = raw_record(placement(rng, valid_bsn(rng), birth))
                producer.send(topic, key=key, value=value)
            producer.commit_transaction()
    finally:
        producer.close()
    return transactions * per_transaction
