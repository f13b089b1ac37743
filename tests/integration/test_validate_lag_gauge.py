"""The validate lag gauge reaches 0 once every record of a transactional raw topic is processed.

Ingest writes the raw topic in Kafka transactions; each commit leaves a control record after the
transaction's last record, which no consumer ever receives. The gauge used to be ``high water -
last processed - 1`` and stayed at 1 on every partition that had a transaction (issue 12, defect 9).
"""

from __future__ import annotations

import random
import re
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from hub_processes import running, service_env, write_keyring
from kafka import KafkaProducer
from messages_support import placement, raw_record, valid_bsn

from services.contracts.topics import RAW
from services.streaming.topic_admin import create_hub_topics

pytestmark = pytest.mark.integration

TRANSACTIONS = 3
PER_TRANSACTION = 20
LAG_LINE = re.compile(rb'^jeugdhub_validate_consumer_lag_messages\{partition="(\d+)"\} (\S+)$', re.M)


def _write_in_transactions(bootstrap: str, topic: str) -> int:
    """Like ingest: several transactions, each spread over the partitions by key."""
    rng = random.Random(12)
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        transactional_id=f"it-lag-{uuid.uuid4().hex[:8]}",
        enable_idempotence=True,
        acks="all",
    )
    try:
        producer.init_transactions()
        for _ in range(TRANSACTIONS):
            producer.begin_transaction()
            for _ in range(PER_TRANSACTION):
                birth = date(2008, 1, 1) + timedelta(days=rng.randrange(3000))
                key, value = raw_record(placement(rng, valid_bsn(rng), birth))
                producer.send(topic, key=key, value=value)
            producer.commit_transaction()
    finally:
        producer.close()
    return TRANSACTIONS * PER_TRANSACTION


def _metric(metrics: bytes, name: str) -> float:
    for line in metrics.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def test_validate_lag_gauge_is_zero_after_a_transactional_topic_is_processed(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    create_hub_topics(kafka_bootstrap, unique_prefix)
    written = _write_in_transactions(kafka_bootstrap, RAW.full_name(unique_prefix))
    env = service_env(
        kafka_bootstrap,
        unique_prefix,
        {"JEUGDHUB_KEYRING_FILE": str(write_keyring(tmp_path / "keyring.json"))},
    )
    with running("validate", env, tmp_path / "validate.log") as worker:
        deadline = time.monotonic() + 60
        while True:
            status, metrics = worker.get("/metrics")
            assert status == 200
            processed = _metric(metrics, "jeugdhub_validate_messages_in_total")
            if processed >= written or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert processed == written, worker.log_tail()
        lags = {int(p): float(v) for p, v in LAG_LINE.findall(metrics)}

    # Every partition that got records reported its lag, and nothing is left behind.
    assert len(lags) >= 3, lags
    assert lags == dict.fromkeys(lags, 0.0), lags
