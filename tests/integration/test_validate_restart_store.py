"""validate's RocksDB duplicate table on the real broker: a worker SIGKILLed and restarted on its data
directory reads only the changelog records written after what its store reflects, an empty
directory (a cold start) or a stale one (another worker owned the partitions meanwhile) reads what
it lacks, and after every restart a copy of any message already answered is a duplicate (the
table is whole).

1. worker A (directory a) answers the first half; SIGKILL.
2. worker B (directory b, empty) reads the whole changelog, answers the second half; SIGKILL.
3. worker A again (directory a, stale by B's entries) reads exactly B's changelog records; SIGKILL.
4. worker A and restarted: reads nothing; a re-send of every message fed so
   far accepts none (each accepted one is a ``duplicate``) and adds no entry.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from hubdev.localkafka.broker import free_port
from hubdev.processes import Child
from services.contracts.codec import decode
from services.contracts.topics import RAW, RETOUR
from services.streaming.topic_admin import create_hub_topics
from tests.integration.hub_processes import example_env, produce, read_all, service_process
from tests.integration.messages_support import expand_feed, raw_records
from tests.integration.test_aggregate_restart_store import _changelog_end, _restored
from tests.integration.test_aggregate_service import EXAMPLES

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not EXAMPLES.is_dir(), reason="worked example not available"),
]


def _validate(env: dict[str, str], tmp_path: Path, name: str, data_dir: Path) -> Child:
    port = free_port()
    worker = service_process(
        "validate",
        {**env, "JEUGDHUB_WEB_PORT": str(port), "JEUGDHUB_DATA_DIR": str(data_dir)},
        tmp_path / f"validate-{name}.log",
        port,
    ).start()
    worker.wait_ready(120)
    return worker


def _wait_committed(bootstrap: str, group: str, topic: str, timeout_s: float = 120.0) -> None:
    """Until *group* has committed the end of every partition of *topic* (asked of its coordinator;
    this consumer never joins the group)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or set())]
        ends = consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all((consumer.committed(tp) or 0) >= ends[tp] for tp in tps):
                return
            time.sleep(0.5)
        raise AssertionError(f"{group} did not commit the end of {topic} within {timeout_s} s")
    finally:
        consumer.close(autocommit=False)


def _answers(bootstrap: str, topic: str) -> dict[tuple[int, int], tuple[str, str]]:
    """(partition, offset) -> (message_id, status) of every retour so far."""
    out = {}
    for record in read_all(bootstrap, topic):
        retour = decode("Retour", record.value)
        out[(record.partition, record.offset)] = (str(retour["message_id"]), retour["status"])
    return out


def test_restart_reads_the_dedup_changelog_tail_and_every_store_ends_whole(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    create_hub_topics(kafka_bootstrap, unique_prefix)
    lines = expand_feed((EXAMPLES / "feed.jsonl").read_bytes().splitlines(), copies=2, seed=5)
    half = len(lines) // 2
    env = example_env(
        kafka_bootstrap,
        unique_prefix,
        tmp_path,
        {
            "JEUGDHUB_BATCH_SIZE": "50",
            # no JEUGDHUB_TABLE_STORE: rocksdb is validate's default
        },
    )
    raw_topic, retour_topic = RAW.full_name(unique_prefix), RETOUR.full_name(unique_prefix)
    changelog = f"{unique_prefix}jeugdhub-validate-dedup-changelog"
    dir_a, dir_b = tmp_path / "data-a", tmp_path / "data-b"

    def feed(part: list[bytes]) -> None:
        """Produce *part* and wait until validate committed it (answered, outputs acknowledged)."""
        produce(kafka_bootstrap, raw_topic, raw_records(part))
        _wait_committed(kafka_bootstrap, f"{unique_prefix}jeugdhub-validate", raw_topic)

    a = _validate(env, tmp_path, "a-1", dir_a)
    try:
        assert _restored(a) == 0  # a new changelog
        feed(lines[:half])
    finally:
        a.kill()
    after_a = _changelog_end(kafka_bootstrap, changelog)
    assert after_a > 0

    b = _validate(env, tmp_path, "b-1", dir_b)  # cold: an empty directory
    try:
        assert _restored(b) == after_a  # the whole changelog
        feed(lines[half:])
    finally:
        b.kill()
    after_b = _changelog_end(kafka_bootstrap, changelog)
    assert after_b > after_a

    a = _validate(env, tmp_path, "a-2", dir_a)  # stale: B wrote meanwhile
    try:
        assert _restored(a) == after_b - after_a  # only B's records
    finally:
        a.kill()  # idle: B had committed everything it answered

    before = _answers(kafka_bootstrap, retour_topic)
    accepted = {message_id for message_id, status in before.values() if status == "accepted"}
    assert accepted
    a = _validate(env, tmp_path, "a-3", dir_a)
    try:
        assert _restored(a) == 0  # nothing after its store
        feed(lines)  # every message again, at new offsets
    finally:
        a.stop()
    again = [answer for at, answer in _answers(kafka_bootstrap, retour_topic).items() if at not in before]
    assert len(again) == len(lines)
    # Whatever was accepted is a duplicate now: no entry is missing, and a duplicate stores nothing.
    assert "accepted" not in {status for _, status in again}
    assert accepted <= {message_id for message_id, status in again if status == "duplicate"}
    assert _changelog_end(kafka_bootstrap, changelog) == after_b
