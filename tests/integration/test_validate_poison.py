"""Poison records between canaries, on the real broker: every record answered, nothing committed early.

Issue 12, defect 1: one raw record that made the worker raise (a 300-deep extra field, a 835 KiB
body of 8-digit numbers) cost a whole batch of *other* senders' messages their outcome, because
faust acknowledges a batch when the agent raises. Here poison records of every kind sit between
valid canaries in small batches; and a send that Kafka refuses must stop the worker before its
consumer group commits past the unanswered records.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType

from hubdev.localkafka.broker import free_port
from hubdev.waiting import wait_until
from services.contracts.codec import decode
from services.contracts.topics import RAW, REJECTED, RETOUR, VALIDATED
from services.streaming.delivery import EXIT_UNDELIVERABLE
from services.streaming.topic_admin import create_hub_topics
from tests.integration.hub_processes import (
    produce,
    read_all,
    running,
    service_env,
    service_process,
    write_keyring,
)
from tests.integration.messages_support import placement, raw_record, valid_bsn

pytestmark = pytest.mark.integration
BIRTH = date(2009, 7, 13)


def _env(bootstrap: str, prefix: str, tmp_path: Path) -> dict[str, str]:
    keyring = write_keyring(tmp_path / "keyring.json")
    return service_env(
        bootstrap, prefix, {"JEUGDHUB_KEYRING_FILE": str(keyring), "JEUGDHUB_BATCH_SIZE": "20"}
    )


def _poisons(rng: random.Random, bsn: str) -> list[tuple[bytes, bytes]]:
    """Raw records as a careless or hostile sender (or a broken writer) could get them onto the topic."""
    deep = placement(rng, bsn, BIRTH)
    deep_payload = b'{"x":' + b"[" * 300 + b"]" * 300 + b"," + orjson.dumps(deep)[1:]
    numbers = " ".join(f"{n:08d}" for n in range(10_000_000, 10_080_000))  # ~720 KiB
    wrong_field = placement(rng, bsn, BIRTH, municipality_code=bsn)
    misspelt = {**placement(rng, bsn, BIRTH), "birth_dat": BIRTH.isoformat()}
    huge_id = placement(rng, bsn, BIRTH)
    huge_id["message_id"] = "9" * 250_000  # key, RawMessage field and payload: 750 KB
    key, _ = raw_record(deep)
    return [
        (key, raw_record(deep)[1].replace(orjson.dumps(deep), deep_payload)),
        raw_record({**placement(rng, bsn, BIRTH), "notes": numbers}),
        raw_record(wrong_field),
        raw_record(misspelt),
        raw_record(huge_id),
        raw_record(b"[" * 5000 + b"]" * 5000),
        raw_record(b'{"message_id": "\\ud800", "bsn": "' + bsn.encode() + b'"}'),
        (b"junk", b"\x00\x01 not a RawMessage " + bsn.encode()),
    ]


def _committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed offset per partition (partitions without a commit left out)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        out = {}
        for partition in sorted(consumer.partitions_for_topic(topic) or []):
            offset = consumer.committed(TopicPartition(topic, partition))
            if offset is not None:
                out[partition] = int(offset)
        return out
    finally:
        consumer.close()


def _end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        return {tp.partition: offset for tp, offset in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def _retours_by_id(bootstrap: str, topic: str) -> dict[str | None, list[dict[str, Any]]]:
    by_id: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for record in read_all(bootstrap, topic):
        retour = decode("Retour", record.value)
        by_id[retour["message_id"]].append(retour)
    return by_id


def _all_bytes(bootstrap: str, topics: list[str]) -> list[bytes]:
    out: list[bytes] = []
    for topic in topics:
        out.extend((r.key or b"") + (r.value or b"") for r in read_all(bootstrap, topic))
    return out


def test_poison_records_between_canaries_cost_no_canary_its_retour(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    create_hub_topics(kafka_bootstrap, unique_prefix)
    rng = random.Random(12)
    canaries = [placement(rng, valid_bsn(rng), BIRTH) for _ in range(60)]
    canaries[5]["location_code"] = "\u202e\u0000\ufeff𝕏 ̸"  # odd Unicode, still a valid message
    poison_bsn = valid_bsn(rng)
    poisons = _poisons(rng, poison_bsn)
    records: list[tuple[bytes, bytes]] = []
    for i, canary in enumerate(canaries):
        records.append(raw_record(canary))
        if i % 6 == 3:
            records.append(poisons[(i // 6) % len(poisons)])
    produce(kafka_bootstrap, RAW.full_name(unique_prefix), records)
    retour_topic = RETOUR.full_name(unique_prefix)

    with running(
        "validate", _env(kafka_bootstrap, unique_prefix, tmp_path), tmp_path / "validate.log"
    ) as worker:
        wait_until(lambda: len(read_all(kafka_bootstrap, retour_topic)), lambda n: n >= len(records), 90)
        group = f"{unique_prefix}jeugdhub-validate"
        raw_topic = RAW.full_name(unique_prefix)
        ends = _end_offsets(kafka_bootstrap, raw_topic)
        committed = wait_until(lambda: _committed(kafka_bootstrap, group, raw_topic), lambda c: c == ends, 90)
        assert committed == ends, "every record answered and committed"
        assert worker.proc is not None and worker.proc.poll() is None, "the worker is still running"

    retours = read_all(kafka_bootstrap, retour_topic)
    assert len(retours) == len(records), "exactly one retour per raw record"
    by_id = _retours_by_id(kafka_bootstrap, retour_topic)
    for canary in canaries:
        assert [r["status"] for r in by_id[canary["message_id"]]] == ["accepted"]
    statuses = [r["status"] for rs in by_id.values() for r in rs]
    # ten poison records cycle through the poisons, so two are exact re-sends: duplicates
    assert statuses.count("rejected") + statuses.count("duplicate") == len(records) - len(canaries)
    assert statuses.count("duplicate") <= 2
    validated = read_all(kafka_bootstrap, VALIDATED.full_name(unique_prefix))
    assert len(validated) == len(canaries)

    outputs = _all_bytes(
        kafka_bootstrap,
        [
            VALIDATED.full_name(unique_prefix),
            REJECTED.full_name(unique_prefix),
            retour_topic,
            f"{unique_prefix}jeugdhub-validate-dedup-changelog",
        ],
    )
    secrets = [m["bsn"] for m in canaries] + [poison_bsn, BIRTH.isoformat()]
    assert outputs
    for value in outputs:
        assert len(value) < 1024 * 1024
        for secret in secrets:
            assert secret.encode() not in value


def test_a_send_kafka_refuses_stops_the_worker_before_it_commits(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    """Rejections to a topic whose message limit is 64 bytes: the send fails, the worker exits 70
    with nothing committed past the unanswered batch; with the limit lifted, a restart answers all."""
    create_hub_topics(kafka_bootstrap, unique_prefix)
    rejected_topic = REJECTED.full_name(unique_prefix)
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, rejected_topic, {"max.message.bytes": "64"})]
        )
        rng = random.Random(13)
        messages = [placement(rng, valid_bsn(rng), BIRTH) for _ in range(30)]
        messages[17]["municipality_code"] = "9999"  # rejected: S300
        raw_topic = RAW.full_name(unique_prefix)
        produce(kafka_bootstrap, raw_topic, [raw_record(m) for m in messages])
        env = _env(kafka_bootstrap, unique_prefix, tmp_path)
        port = free_port()
        worker = service_process(
            "validate", {**env, "JEUGDHUB_WEB_PORT": str(port)}, tmp_path / "v1.log", port
        )
        worker.start()
        assert worker.proc is not None
        try:
            code = worker.proc.wait(90)
        finally:
            worker.kill()
        assert code == EXIT_UNDELIVERABLE, worker.log_tail()
        assert "stopping the worker without committing" in worker.log_path.read_text()
        group = f"{unique_prefix}jeugdhub-validate"
        rejected_record = raw_record(messages[17])[0]
        partition = _partition_of(kafka_bootstrap, raw_topic, rejected_record)
        committed = _committed(kafka_bootstrap, group, raw_topic)
        offset_of_rejected = _offset_of(kafka_bootstrap, raw_topic, partition, rejected_record)
        assert committed.get(partition, 0) <= offset_of_rejected, (
            "nothing committed past the unanswered record"
        )

        admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, rejected_topic, {"max.message.bytes": "1048588"})]
        )
        with running("validate", env, tmp_path / "v2.log"):
            wanted = {m["message_id"] for m in messages}
            by_id = wait_until(
                lambda: _retours_by_id(kafka_bootstrap, RETOUR.full_name(unique_prefix)),
                lambda found: wanted <= set(found),
                90,
            )
        assert wanted <= set(by_id)
        assert {r["status"] for r in by_id[messages[17]["message_id"]]} == {"rejected"}
        assert all(
            {r["status"] for r in by_id[m["message_id"]]} == {"accepted"}
            for m in messages
            if m is not messages[17]
        )
    finally:
        admin.close()


def _partition_of(bootstrap: str, topic: str, key: bytes) -> int:
    for record in read_all(bootstrap, topic):
        if record.key == key:
            return int(record.partition)
    raise AssertionError("record not found")


def _offset_of(bootstrap: str, topic: str, partition: int, key: bytes) -> int:
    for record in read_all(bootstrap, topic):
        if record.key == key and record.partition == partition:
            return int(record.offset)
    raise AssertionError("record not found")
