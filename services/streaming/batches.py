"""Keyed records handed to an aiokafka producer as one record batch per partition.

``producer.send`` makes a future (and a message-accumulator round) per record, a visible share of a
stage's CPU when every message yields two or three output records. Appending a whole batch of
records to one ``BatchBuilder`` per topic-partition and sending those instead costs one future per
partition. The partition is the default partitioner's (:func:`partition_for`), so every record lands
where ``producer.send`` would have put it, and records keep their order within a partition.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from services.streaming.partitioner import partition_for

Record = tuple[bytes, bytes]
"""(key, value)"""

MAX_RECORD_BYTES = 900 * 1024
"""Largest key + value the hub writes: under Kafka's default 1 MiB message limit with room for the
record batch's own overhead. Larger outputs are answered as UNPROCESSABLE rejections instead."""


class RecordTooLarge(ValueError):
    """An output record over :data:`MAX_RECORD_BYTES`."""


def check_record_size(topic: str, key: bytes, value: bytes) -> None:
    size = len(key) + len(value)
    if size > MAX_RECORD_BYTES:
        raise RecordTooLarge(f"a record for {topic} would be {size} bytes; at most {MAX_RECORD_BYTES}")


Routed = tuple[bytes, bytes, bytes]
"""(partition key, key, value): the partition is chosen by hashing the partition key, which may differ
from the record's key (a faust table's changelog key is JSON text, its partition the source's)."""


async def send_record_batches(
    producer: Any, topic: str, records: Iterable[Record]
) -> list[asyncio.Future[Any]]:
    """Queue *records* for *topic*; the returned futures resolve when every batch is acknowledged."""
    return await send_routed_batches(producer, topic, ((key, key, value) for key, value in records))


async def send_routed_batches(
    producer: Any, topic: str, records: Iterable[Routed]
) -> list[asyncio.Future[Any]]:
    """As :func:`send_record_batches`, each record in the partition of its partition key."""
    partitions = len(await producer.partitions_for(topic))
    builders: dict[int, Any] = {}
    futures: list[asyncio.Future[Any]] = []
    for route, key, value in records:
        partition = partition_for(route, partitions)
        builder = builders.get(partition)
        if builder is None:
            builder = builders[partition] = producer.create_batch()
        if builder.append(key=key, value=value, timestamp=None) is None:  # full: send it, start anew
            futures.append(await producer.send_batch(builder, topic, partition=partition))
            builder = builders[partition] = producer.create_batch()
            builder.append(key=key, value=value, timestamp=None)
    for partition, builder in builders.items():
        futures.append(await producer.send_batch(builder, topic, partition=partition))
    return futures
