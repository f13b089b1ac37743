"""Start the hub's real services as processes for integration and end-to-end tests."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from hubdev.localkafka.broker import free_port
from hubdev.processes import JEUGDHUB, Child


def write_keyring(path: Path, key_id: str = "k1") -> Path:
    path.write_text(json.dumps({"active": key_id, "keys": {key_id: secrets.token_hex(32)}}))
    return path


def service_process(command: str, env: dict[str, str], log_path: Path, web_port: int) -> Child:
    """One ``jeugdhub <command>`` process with its own log file and web port (not started). No
    parent-death signal and no own session: pytest's process is its parent and stops it."""
    return Child(command, [JEUGDHUB, command], env, log_path, web_port, tail_lines=40)


def service_env(bootstrap: str, prefix: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEUGDHUB_")}
    env.update(
        {
            "JEUGDHUB_KAFKA_BOOTSTRAP": bootstrap,
            "JEUGDHUB_TOPIC_PREFIX": prefix,
            "JEUGDHUB_SESSION_TIMEOUT_S": "6",
            "JEUGDHUB_REBALANCE_TIMEOUT_S": "6",
            "JEUGDHUB_LOG_LEVEL": "INFO",
            "JEUGDHUB_DATA_DIR": str(Path(tempfile.gettempdir()) / "jeugdhub-test-faust"),
        }
    )
    env.update(extra or {})
    return env


@contextmanager
def running(command: str, env: dict[str, str], log_path: Path) -> Iterator[Child]:
    port = free_port()
    service = service_process(command, {**env, "JEUGDHUB_WEB_PORT": str(port)}, log_path, port).start()
    try:
        service.wait_ready()
        yield service
    finally:
        service.stop()


def produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for key, value in records:
            producer.send(topic, key=key, value=value)
        producer.flush()
    finally:
        producer.close()


def read_all(bootstrap: str, topic: str, expect: int | None = None, timeout_s: float = 60.0) -> list[Any]:
    """Every record of ``topic`` (all partitions, committed only); waits until ``expect`` are there."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    try:
        deadline = time.monotonic() + timeout_s
        partitions: set[int] = set()
        while not partitions and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic) or set()
            if not partitions:
                time.sleep(0.2)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        records: list[Any] = []
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
            if expect is None:
                ends = consumer.end_offsets(tps)
                if all(consumer.position(tp) >= ends[tp] for tp in tps):
                    break
            elif len(records) >= expect:
                break
        return records
    finally:
        consumer.close()


def topic_names(bootstrap: str) -> set[str]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        return set(consumer.topics())
    finally:
        consumer.close()
