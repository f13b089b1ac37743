"""The aggregate's RocksDB table store on the real broker: a worker SIGKILLed and restarted on its
data directory reads only the changelog records written after what its store reflects, and a worker
whose directory is empty (a cold start) or stale (another worker owned the partitions meanwhile)
still ends with the whole state: after every step the published figures equal replay's.

The worked example (four copies) in thirds:
1. worker A (directory a) applies the first third; SIGKILL.
2. worker B (directory b, empty) reads the whole changelog, applies the second third; SIGKILL.
3. worker A again (directory a, stale by B's writes) reads exactly B's changelog records, then
   applies the last third, whose youth also had messages in the first two: their facts come from
   the table, so a youth missing from it would change the figures.
4. worker A SIGKILLed while idle and restarted: reads nothing but the (empty) tail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

from hubdev.localkafka.broker import free_port
from hubdev.processes import Child
from services.contracts.topics import RAW
from services.streaming.topic_admin import create_hub_topics
from tests.integration.hub_processes import (
    example_env,
    produce,
    running,
    service_process,
    wait_for_published,
)
from tests.integration.messages_support import expand_feed, raw_records
from tests.integration.test_aggregate_service import AS_OF, EXAMPLES, _replay_rows

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not EXAMPLES.is_dir(), reason="worked example not available"),
]


def _aggregate(env: dict[str, str], tmp_path: Path, name: str, data_dir: Path) -> Child:
    port = free_port()
    worker = service_process(
        "aggregate",
        {
            **env,
            "JEUGDHUB_WEB_PORT": str(port),
            "JEUGDHUB_DATA_DIR": str(data_dir),
            "JEUGDHUB_TABLE_STORE": "rocksdb",
        },
        tmp_path / f"aggregate-{name}.log",
        port,
    ).start()
    worker.wait_ready(120)
    return worker


def _restored(worker: Child) -> int:
    """Changelog records the worker's table restore read (its first 'table partitions restored')."""
    for line in worker.log_path.read_bytes().splitlines():
        try:
            entry: Any = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(entry, dict) and entry.get("msg") == "table partitions restored":
            return int(entry["changelog_records_read"])
    raise AssertionError(f"no 'table partitions restored' line in {worker.log_path}")


def _changelog_end(bootstrap: str, topic: str) -> int:
    """Records in the changelog (no compaction in a test this short: every record ever written)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or set())]
        assert tps, f"{topic} does not exist"
        starts, ends = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        assert all(starts[tp] == 0 for tp in tps)
        return sum(ends.values())
    finally:
        consumer.close()


def test_restart_reads_the_changelog_tail_and_stale_or_empty_stores_end_right(
    kafka_bootstrap: str, unique_prefix: str, tmp_path: Path
) -> None:
    create_hub_topics(kafka_bootstrap, unique_prefix)
    lines = expand_feed((EXAMPLES / "feed.jsonl").read_bytes().splitlines(), copies=4, seed=11)
    third = len(lines) // 3
    parts = [lines[:third], lines[third : 2 * third], lines[2 * third :]]
    env = example_env(
        kafka_bootstrap,
        unique_prefix,
        tmp_path,
        {
            "JEUGDHUB_AS_OF": AS_OF,
            "JEUGDHUB_BATCH_SIZE": "50",
        },
    )
    changelog = f"{unique_prefix}jeugdhub-aggregate-youth-messages-changelog"
    dir_a, dir_b = tmp_path / "data-a", tmp_path / "data-b"

    def feed(upto: int) -> list[dict[str, Any]]:
        produce(kafka_bootstrap, RAW.full_name(unique_prefix), raw_records(parts[upto - 1]))
        expected = _replay_rows([line for part in parts[:upto] for line in part])
        assert wait_for_published(kafka_bootstrap, unique_prefix, expected, AS_OF) == expected
        return expected

    with running("validate", env, tmp_path / "validate.log"):
        a = _aggregate(env, tmp_path, "a-1", dir_a)
        try:
            assert _restored(a) == 0  # a new changelog
            first = feed(1)
        finally:
            a.kill()
        after_a = _changelog_end(kafka_bootstrap, changelog)
        assert after_a > 0

        b = _aggregate(env, tmp_path, "b-1", dir_b)  # cold: an empty directory
        try:
            assert _restored(b) == after_a  # the whole changelog
            second = feed(2)
            assert second != first
        finally:
            b.kill()
        after_b = _changelog_end(kafka_bootstrap, changelog)
        assert after_b > after_a

        a = _aggregate(env, tmp_path, "a-2", dir_a)  # stale: B wrote meanwhile
        try:
            assert _restored(a) == after_b - after_a  # only B's records
            assert wait_for_published(kafka_bootstrap, unique_prefix, second, AS_OF) == second
            everything = feed(3)
            assert everything == _replay_rows(lines)
        finally:
            a.kill()

        a = _aggregate(env, tmp_path, "a-3", dir_a)  # idle when killed: nothing after its store
        try:
            assert _restored(a) == 0
            assert wait_for_published(kafka_bootstrap, unique_prefix, everything, AS_OF) == everything
        finally:
            a.stop()
