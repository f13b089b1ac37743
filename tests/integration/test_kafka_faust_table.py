"""faust-streaming against the real broker: internal topic creation, an agent, and a table that
a restarted worker rebuilds from its changelog topic.

The worker uses the ``memory://`` store, so the restarted process starts with an empty table:
getting the old totals back proves faust created the changelog (CreateTopics), wrote to it,
committed its source offsets and replayed the changelog on assignment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from kafka import KafkaProducer

from hubdev.localkafka.admin import admin_client
from tests.integration.faust_counter_support import CounterWorker, changelog_topic

pytestmark = pytest.mark.integration


def _send(bootstrap: str, topic: str, events: Iterable[tuple[str, int]]) -> None:
    """Produce events in the wire format the app's topic declares (raw str key, JSON int value)."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for key, value in events:
            producer.send(topic, key=key.encode(), value=str(value).encode())
        producer.flush(timeout=30)
    finally:
        producer.close()


def _changelog_length(bootstrap: str, topic: str) -> int:
    async def read() -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        await consumer.start()
        try:
            tp = TopicPartition(topic, 0)
            return int((await consumer.end_offsets([tp]))[tp])
        finally:
            await consumer.stop()

    return asyncio.run(read())


def _table_is(expected: dict[str, int]) -> Any:
    return lambda snap: snap["recovered"] and snap["table"] == expected


def test_table_recovers_from_changelog_after_restart(
    kafka_bootstrap: str,
    unique_topic: str,
    unique_group: str,
    create_topics: Callable[..., None],
    tmp_path: Path,
) -> None:
    app_id = unique_group
    # Source topics are the application's to declare; faust only creates its internal ones.
    create_topics([unique_topic])

    worker = CounterWorker(app_id, kafka_bootstrap, unique_topic, tmp_path / "worker-1").start()
    try:
        worker.wait_for(lambda snap: snap["recovered"])
        _send(kafka_bootstrap, unique_topic, [("a", 1), ("b", 2), ("a", 3)])
        worker.wait_for(_table_is({"a": 4, "b": 2}))
    finally:
        exit_code = worker.stop()
    assert exit_code == 0, f"worker did not shut down cleanly on SIGTERM (exit {exit_code})"

    with admin_client(kafka_bootstrap) as admin:
        topics = set(admin.list_topics())
    assert changelog_topic(app_id) in topics, "faust did not create its changelog topic"
    assert f"{app_id}-__assignor-__leader" in topics
    assert _changelog_length(kafka_bootstrap, changelog_topic(app_id)) >= 2

    restarted = CounterWorker(app_id, kafka_bootstrap, unique_topic, tmp_path / "worker-2")
    with restarted:
        # No new input yet: these totals can only come from the changelog, and exact values
        # also show the source offsets were committed (no replay would double them).
        restarted.wait_for(_table_is({"a": 4, "b": 2}))
        _send(kafka_bootstrap, unique_topic, [("a", 10), ("c", 5)])
        restarted.wait_for(_table_is({"a": 14, "b": 2, "c": 5}))
