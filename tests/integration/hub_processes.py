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
from hubdev.paths import SPEC_EXAMPLES
from hubdev.processes import JEUGDHUB, Child
from services.contracts.canonical import record_to_json
from services.contracts.codec import decode
from services.contracts.topics import AGGREGATES, VALIDATED


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


def example_env(
    bootstrap: str, prefix: str, tmp_path: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The services' environment for the worked example: a test keyring written to ``tmp_path``,
    the example's regions, and *extra* (the day, batch size, store...)."""
    return service_env(
        bootstrap,
        prefix,
        {
            "JEUGDHUB_KEYRING_FILE": str(write_keyring(tmp_path / "keyring.json")),
            "JEUGDHUB_REGIONS_FILE": str(SPEC_EXAMPLES / "regions.csv"),
            **(extra or {}),
        },
    )


def day_file_env(
    bootstrap: str, prefix: str, keyring_file: Path, as_of_file: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The services' environment for the worked example with the worker's day read from
    ``as_of_file`` (moved by the test) and small batches, so the test sees each step's figures."""
    return service_env(
        bootstrap,
        prefix,
        {
            "JEUGDHUB_KEYRING_FILE": str(keyring_file),
            "JEUGDHUB_REGIONS_FILE": str(SPEC_EXAMPLES / "regions.csv"),
            "JEUGDHUB_AS_OF_FILE": str(as_of_file),
            "JEUGDHUB_BATCH_SIZE": "50",
            **(extra or {}),
        },
    )


def starting(command: str, env: dict[str, str], log_path: Path) -> Child:
    """One ``jeugdhub <command>`` on a free web port, started but not waited for: start several,
    then wait for each, and their starts (imports, group joins, recovery) overlap."""
    port = free_port()
    return service_process(command, {**env, "JEUGDHUB_WEB_PORT": str(port)}, log_path, port).start()


def started(command: str, env: dict[str, str], log_path: Path) -> Child:
    """One ``jeugdhub <command>`` on a free web port, started and ready; the caller stops it (or
    kills it). For a process that outlives one ``with`` block (a story told over several tests)."""
    service = starting(command, env, log_path)
    try:
        service.wait_ready()
    except BaseException:
        service.stop()
        raise
    return service


@contextmanager
def running(command: str, env: dict[str, str], log_path: Path) -> Iterator[Child]:
    service = started(command, env, log_path)
    try:
        yield service
    finally:
        service.stop()


@contextmanager
def running_all(*services: tuple[str, dict[str, str], Path]) -> Iterator[list[Child]]:
    """``running`` for several services (command, env, log path) started at once, then each waited
    for until ready; on the way out each still running is stopped, the last started first."""
    children: list[Child] = []
    try:
        for command, env, log_path in services:
            children.append(starting(command, env, log_path))
        for child in children:
            child.wait_ready()
        yield children
    finally:
        for child in reversed(children):
            child.stop()


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


def published_rows(bootstrap: str, prefix: str, as_of: str | None = None) -> list[dict[str, Any]]:
    """The aggregates topic's latest snapshot per region, in replay's order (regions sorted, then
    NL), without ``as_of`` and ``computed_at``; with ``as_of``, every snapshot read must be of it."""
    latest: dict[str, dict[str, Any]] = {}
    for record in read_all(bootstrap, AGGREGATES.full_name(prefix), timeout_s=10):
        snapshot = record_to_json("RegionSnapshot", decode("RegionSnapshot", record.value))
        if as_of is not None:
            assert snapshot["as_of"] == as_of
        latest[record.key.decode()] = {k: v for k, v in snapshot.items() if k not in ("as_of", "computed_at")}
    return [latest[k] for k in sorted(k for k in latest if k != "NL")] + (
        [latest["NL"]] if "NL" in latest else []
    )


def wait_for_published(
    bootstrap: str,
    prefix: str,
    expected: list[dict[str, Any]],
    as_of: str | None = None,
    timeout_s: float = 120,
) -> list[dict[str, Any]]:
    """:func:`published_rows` once they equal ``expected``, or the last ones read at the timeout."""
    deadline = time.monotonic() + timeout_s
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        rows = published_rows(bootstrap, prefix, as_of)
        if rows == expected:
            return rows
        time.sleep(0.3)
    return rows


def committed_to_end(bootstrap: str, prefix: str, timeout_s: float = 60) -> dict[TopicPartition, int]:
    """Wait until the aggregate's group has committed every validated record; the offsets. (Only
    transaction markers, never records, may follow a committed offset.)"""
    topic = VALIDATED.full_name(prefix)
    consumer = KafkaConsumer(  # in the aggregate's group only to read its offsets: never commits
        bootstrap_servers=bootstrap,
        group_id=f"{prefix}jeugdhub-aggregate",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            committed = {tp: consumer.committed(tp) or 0 for tp in tps}
            for tp in tps:
                consumer.seek(tp, committed[tp])
            ends = consumer.end_offsets(tps)
            after = 0
            while any(consumer.position(tp) < ends[tp] for tp in tps):
                after += sum(len(batch) for batch in consumer.poll(timeout_ms=500).values())
            if after == 0:
                return committed
            time.sleep(0.5)
        raise AssertionError(f"the aggregate never committed all of {topic}")
    finally:
        consumer.close()
