"""Follow a small compacted topic whole: every partition from the beginning, no consumer group.

Used for the topics every worker must hold completely before it judges or applies anything, and
then keep current: the erasures (services/privacy/erasure_topic.py) and the key rotation's links
(services/privacy/links.py). No consumer group, because each worker needs all partitions and a
restarted worker must read everything again (group offsets would make it skip what it must hold).

:attr:`CompactedFollower.loaded` is set once the end offsets seen at start are reached; the
worker's ``/readyz`` waits for it. Each record is handed to ``apply`` (key, value; value None for
a tombstone) in partition order, also after ``loaded``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from kafka import KafkaConsumer

Apply = Callable[[bytes | None, bytes | None], None]


class CompactedFollower:
    """Read ``topic`` to the end seen at start (then set :attr:`loaded` and call ``on_loaded``), then
    follow it; run :meth:`run` as a worker task."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        apply: Apply,
        log: logging.Logger,
        missing: str,
        on_loaded: Callable[[], None] | None = None,
        fetch_max_wait_ms: int = 500,
    ) -> None:
        self.loaded = asyncio.Event()
        self.topic = topic
        self._bootstrap = bootstrap
        self._apply = apply
        self._log = log
        self._missing = missing
        self._on_loaded = on_loaded
        self._fetch_max_wait_ms = fetch_max_wait_ms

    async def run(self) -> None:
        """Read from the beginning, set :attr:`loaded` at the end seen at start, then follow."""
        partitions = await asyncio.to_thread(self._wait_for_partitions)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            group_id=None,
            isolation_level="read_committed",
            fetch_max_wait_ms=self._fetch_max_wait_ms,
        )
        await consumer.start()
        try:
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            targets = await consumer.end_offsets(tps)
            while True:
                batches = await consumer.getmany(timeout_ms=200, max_records=5000)
                for records in batches.values():
                    for record in records:
                        self._apply(record.key, record.value)
                if not self.loaded.is_set():
                    positions = {tp: await consumer.position(tp) for tp in tps}
                    if all(positions[tp] >= targets[tp] for tp in tps):
                        self.loaded.set()
                        if self._on_loaded is not None:
                            self._on_loaded()
        finally:
            await consumer.stop()

    def _wait_for_partitions(self) -> set[int]:
        """The topic's partitions; waits (not ready, warning every 30 s) until it exists: the worker
        must not judge or apply without what the topic holds."""
        consumer = KafkaConsumer(bootstrap_servers=self._bootstrap)
        try:
            waited = 0.0
            while True:
                partitions = consumer.partitions_for_topic(self.topic)
                if partitions:
                    return set(partitions)
                if waited % 30 == 0:
                    self._log.warning(self._missing, extra={"topic": self.topic})
                time.sleep(0.5)
                waited += 0.5
        finally:
            consumer.close()
