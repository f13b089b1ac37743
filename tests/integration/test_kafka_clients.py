"""The pinned Python clients against the real broker: kafka-python writes, aiokafka reads.

These are the protocol paths faust depends on (produce, group join, fetch, offset commit) and
the transactional producer that ingest uses, checked without faust in the way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaTimeoutError, UnknownTopicOrPartitionError
from kafka import KafkaProducer

from hubdev.localkafka.admin import admin_client

pytestmark = pytest.mark.integration

Record = tuple[bytes | None, bytes | None, tuple[tuple[str, bytes], ...]]


async def _consume(
    bootstrap: str, topic: str, group: str, count: int, *, isolation: str = "read_uncommitted"
) -> list[Record]:
    """Read *count* records as group *group*, commit, and return (key, value, headers)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level=isolation,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    await consumer.start()
    try:
        got: list[Record] = []
        async with asyncio.timeout(30):
            while len(got) < count:
                batches = await consumer.getmany(timeout_ms=500)
                for messages in batches.values():
                    got += [(m.key, m.value, tuple(m.headers)) for m in messages]
        await consumer.commit()
        return got
    finally:
        await consumer.stop()


def _committed(bootstrap: str, group: str) -> int:
    with admin_client(bootstrap) as admin:
        offsets = cast(dict[str, dict[Any, Any]], admin.list_group_offsets(group))[group]
    return sum(int(meta.offset) for meta in offsets.values())


def test_kafka_python_produces_aiokafka_consumes(
    kafka_bootstrap: str, unique_topic: str, unique_group: str, create_topics: Callable[..., None]
) -> None:
    create_topics([unique_topic], partitions=3)
    sent: list[Record] = [
        (f"key-{i}".encode(), bytes(range(i % 256)) * 3, (("n", str(i).encode()),)) for i in range(60)
    ]
    sent.append((None, b"keyless", ()))
    sent.append((b"tombstone", None, ()))

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    try:
        for key, value, headers in sent:
            producer.send(unique_topic, key=key, value=value, headers=list(headers))
        producer.flush(timeout=30)
    finally:
        producer.close()

    got = asyncio.run(_consume(kafka_bootstrap, unique_topic, unique_group, len(sent)))

    def order(r: Record) -> tuple[bytes, bytes]:
        return (r[0] or b"", r[1] or b"")

    assert sorted(got, key=order) == sorted(sent, key=order)
    assert _committed(kafka_bootstrap, unique_group) == len(sent)


def test_aiokafka_transactions_hide_aborted_records(
    kafka_bootstrap: str, unique_topic: str, unique_group: str, create_topics: Callable[..., None]
) -> None:
    """ingest writes in transactions; read_committed readers must see only committed batches."""
    create_topics([unique_topic])

    async def produce() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap, transactional_id=f"{unique_group}-txn", enable_idempotence=True
        )
        await producer.start()
        try:
            async with producer.transaction():
                await producer.send_and_wait(unique_topic, b"committed-1")
                await producer.send_and_wait(unique_topic, b"committed-2")
            await producer.begin_transaction()
            await producer.send_and_wait(unique_topic, b"aborted")
            await producer.abort_transaction()
            async with producer.transaction():
                await producer.send_and_wait(unique_topic, b"committed-3")
        finally:
            await producer.stop()

    asyncio.run(produce())
    got = asyncio.run(_consume(kafka_bootstrap, unique_topic, unique_group, 3, isolation="read_committed"))
    assert [value for _, value, _ in got] == [b"committed-1", b"committed-2", b"committed-3"]


def test_topics_are_not_auto_created(kafka_bootstrap: str, unique_topic: str) -> None:
    """Producing to an undeclared topic fails, as on the production cluster (docs/kafka.md)."""

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, request_timeout_ms=3000)
        await producer.start()
        try:
            await producer.send_and_wait(unique_topic, b"x")
        finally:
            await producer.stop()

    with pytest.raises((UnknownTopicOrPartitionError, KafkaTimeoutError)):
        asyncio.run(produce())
    with admin_client(kafka_bootstrap) as admin:
        assert unique_topic not in set(admin.list_topics())


def test_create_topics_is_idempotent(
    kafka_bootstrap: str, unique_topic: str, create_topics: Callable[..., None]
) -> None:
    create_topics([unique_topic], partitions=2, config={"cleanup.policy": "compact"})
    create_topics([unique_topic], partitions=2)

    with admin_client(kafka_bootstrap) as admin:
        (described,) = cast(list[dict[str, Any]], admin.describe_topics([unique_topic]))
    assert described["error_code"] == 0
    assert sorted((p["partition_index"], p["leader_id"]) for p in described["partitions"]) == [(0, 1), (1, 1)]
