"""Start the hub's real services as processes for integration and end-to-end tests."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from hubdev.localkafka.broker import free_port

JEUGDHUB = str(Path(sys.executable).with_name("jeugdhub"))


def write_keyring(path: Path, key_id: str = "k1") -> Path:
    path.write_text(json.dumps({"active": key_id, "keys": {key_id: secrets.token_hex(32)}}))
    return path


@dataclass
class ServiceProcess:
    """One ``jeugdhub <command>`` process with its own log file and web port."""

    command: str
    env: dict[str, str]
    log_path: Path
    web_port: int
    proc: subprocess.Popen[bytes] | None = field(default=None)

    def start(self) -> ServiceProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [JEUGDHUB, self.command], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.web_port}{path}"

    def get(self, path: str, timeout_s: float = 2.0) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url(path), timeout=timeout_s) as response:
                return int(response.status), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.command} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if self.get("/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.command} not ready in {timeout_s} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no final commit."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


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
def running(command: str, env: dict[str, str], log_path: Path) -> Iterator[ServiceProcess]:
    port = free_port()
    service = ServiceProcess(command, {**env, "JEUGDHUB_WEB_PORT": str(port)}, log_path, port).start()
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
