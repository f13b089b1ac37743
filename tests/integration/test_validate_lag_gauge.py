"""The validate lag gauge reaches 0 once every record of a transactional raw topic is processed.

Ingest writes the raw topic in Kafka transactions; each commit leaves a control record after the
transaction's last record, which no consumer ever receives. The gauge used to be ``high water -
last processed - 1`` and stayed at 1 on every partition that had a transaction (issue 12, defect 9).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hubdev.waiting import wait_until
from services.contracts.topics import RAW
from services.streaming.topic_admin import create_hub_topics
from tests.integration.hub_processes import running, service_env, write_keyring
from tests.integration.messages_support import write_in_transactions

pytestmark = pytest.mark.integration

TRANSACTIONS = 3
PER_TRANSACTION = 20
LAG_LINE = re.compile(rb'^jeugdhub_validate_consumer_lag_messages\{partition="(\d+)"\} (\S+)$', re.M)


def _metric(metrics: bytes, name: str) -> float:
    for line in metrics.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def test_validate_lag_gauge_is_zero_after_a_transactional_topic_is_processed(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    create_hub_topics(kafka_bootstrap, unique_prefix)
    written = write_in_transactions(
        kafka_bootstrap, RAW.full_name(unique_prefix), TRANSACTIONS, PER_TRANSACTION, 12
    )
    env = service_env(
        kafka_bootstrap,
        unique_prefix,
        {"JEUGDHUB_KEYRING_FILE": str(write_keyring(tmp_path / "keyring.json"))},
    )
    with running("validate", env, tmp_path / "validate.log") as worker:

        def read() -> tuple[float, bytes]:
            status, metrics = worker.get("/metrics")
            assert status == 200
            return _metric(metrics, "jeugdhub_validate_messages_in_total"), metrics

        processed, metrics = wait_until(read, lambda answer: answer[0] >= written, 60, 0.2)
        assert processed == written, worker.log_tail()
        lags = {int(p): float(v) for p, v in LAG_LINE.findall(metrics)}

    # Every partition that got records reported its lag, and nothing is left behind.
    assert len(lags) >= 3, lags
    assert lags == dict.fromkeys(lags, 0.0), lags
