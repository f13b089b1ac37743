"""Follows the compacted aggregates topic: the latest RegionSnapshot per region, for the live view.

Read committed only: a fenced snapshot publisher's aborted records are on the log too
(services/aggregate/publisher.py). As a second line of defence a snapshot whose position header does
not cover the one already shown for its region is ignored, so the view never goes back in time.
"""

from __future__ import annotations

import threading
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from services.aggregate.ordering import Position, position_of
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
        self._positions: dict[str, Position] = {}
        self.received = 0
        self.ignored_older = 0

    def latest(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return dict(self._latest)

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        consumer = KafkaConsumer(
            bootstrap_servers=self._servers, enable_auto_commit=False, isolation_level="read_committed"
        )
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
                        region = snapshot["region"]
                        position = position_of(record.headers)
                        held = self._positions.get(region)
                        if position is not None and held is not None and not position.covers(held):
                            self.ignored_older += 1
                            continue
                        if position is not None:
                            self._positions[region] = position
                        with self._lock:
                            self._latest[region] = snapshot
                        self.received += 1
        finally:
            consumer.close()
