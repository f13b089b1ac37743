"""validate's consumer group commits to the end of a transactional raw topic once it has caught up.

Ingest writes the raw topic one small transaction per request, so a partition holds a commit marker
every few records. faust records the offsets between two received records as a gap, but its gap
interval also covered the next *real* record, which was then counted twice among the acknowledged
offsets; its search for consecutive offsets stopped at every duplicate, so each commit advanced past
one transaction only (the soak, docs/reliability.md: committed 20 of 605 after 24 s). A restart
then re-read everything since, and ingest's admission control saw a backlog that was not there.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from hubdev.waiting import wait_until
from services.contracts.topics import RAW, RETOUR
from services.streaming.topic_admin import create_hub_topics
from tests.integration.hub_processes import read_all, running, service_env, write_keyring
from tests.integration.messages_support import write_in_transactions

pytestmark = pytest.mark.integration
TRANSACTIONS = 120
PER_TRANSACTION = 2


def _committed_and_ends(bootstrap: str, group: str, topic: str) -> tuple[dict[int, int], dict[int, int]]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        committed = {tp.partition: consumer.committed(tp) or 0 for tp in tps}
        ends = {tp.partition: offset for tp, offset in consumer.end_offsets(tps).items()}
        return committed, ends
    finally:
        consumer.close()


def test_commits_reach_the_end_of_a_transactional_raw_topic(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    create_hub_topics(kafka_bootstrap, unique_prefix)
    topic = RAW.full_name(unique_prefix)
    write_in_transactions(kafka_bootstrap, topic, TRANSACTIONS, PER_TRANSACTION, 3)

    env = service_env(
        kafka_bootstrap, unique_prefix, {"JEUGDHUB_KEYRING_FILE": str(write_keyring(tmp_path / "k.json"))}
    )
    group = f"{unique_prefix}jeugdhub-validate"
    with running("validate", env, tmp_path / "validate.log"):
        wait_until(
            lambda: len(read_all(kafka_bootstrap, RETOUR.full_name(unique_prefix))),
            lambda n: n >= TRANSACTIONS * PER_TRANSACTION,
        )
        # faust commits every 2.8 s; a few intervals are plenty once everything is processed
        committed, ends = wait_until(
            lambda: _committed_and_ends(kafka_bootstrap, group, topic),
            lambda found: _caught_up(*found),
            20,
            1,
        )
    assert _caught_up(committed, ends), f"committed {committed}, ends {ends}"


def _caught_up(committed: dict[int, int], ends: dict[int, int]) -> bool:
    """At the end, or before the partition's final commit marker only: faust commits the offset after
    the last record it acknowledged, and no record follows the last transaction's marker (a restart
    reading from it skips it)."""
    return all(0 <= ends[p] - committed.get(p, 0) <= 1 for p in ends)
