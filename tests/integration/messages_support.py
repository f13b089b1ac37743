"""Generated canonical-JSON messages and RawMessage records for integration tests (the raw
records and expanded feeds are ``hubdev.records``', shared with the fault tests and bench/)."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from typing import Any

from kafka import KafkaProducer

from hubdev.records import expand_feed, raw_record, raw_records, valid_bsn

__all__ = ["expand_feed", "placement", "raw_record", "raw_records", "valid_bsn", "write_in_transactions"]


def placement(
    rng: random.Random, bsn: str, birth: date, provider: str = "10000001", **overrides: Any
) -> dict[str, Any]:
    start = date(2026, 1, 1) + timedelta(days=rng.randrange(60))
    message = {
        "message_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "message_type": "placement_started",
        "status": "new",
        "cancels_message_id": None,
        "sender": {"kind": "provider", "code": provider},
        "created_at": f"{start + timedelta(days=1)}T10:00:00Z",
        "bsn": bsn,
        "birth_date": birth.isoformat(),
        "municipality_code": "0363",
        "placement_id": f"P{rng.getrandbits(32):08x}",
        "provider_agb": provider,
        "location_code": "L1",
        "care_type": rng.choice(["gesloten", "open_residentieel", "gezinshuis"]),
        "legal_basis": "machtiging",
        "start_date": start.isoformat(),
    }
    message.update(overrides)
    return message


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
