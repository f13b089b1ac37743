"""Follows the compacted aggregates topic: the latest RegionSnapshot per region, for the live view."""

from __future__ import annotations

import threading
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from services.contracts.canonical import record_to_json
from services.contracts.codec import decode
from services.contracts.errors import ContractError


class SnapshotFollower(threading.Thread):
    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(name="snapshot-follower", daemon=True)
        self._servers = bootstrap
        self._topic = topic
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._latest: dict[str, dict[str, Any]] = {}
        self.received = 0

    def latest(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return dict(self._latest)

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        consumer = KafkaConsumer(bootstrap_servers=self._servers, enable_auto_commit=False)
        try:
            partitions = consumer.partitions_for_topic(self._topic) or {0}
            tps = [TopicPartition(self._topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            while not self._stopping.is_set():
                for records in consumer.poll(timeout_ms=500).values():
                    for record in records:
                        try:
                            snapshot = record_to_json(
                                "RegionSnapshot", decode("RegionSnapshot", record.value)
                            )
                        except ContractError:
                            continue
                        with self._lock:
                            self._latest[snapshot["region"]] = snapshot
                        self.received += 1
        finally:
            consumer.close()
