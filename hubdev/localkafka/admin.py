"""Small kafka-python admin helpers for the development broker: readiness probing.

Topic creation is production code (``services.streaming.topic_admin.ensure_topics``), used by the
tests and benchmarks against this broker too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from kafka import KafkaAdminClient


@dataclass(frozen=True)
class ClusterInfo:
    """What a metadata round trip told us about the cluster."""

    cluster_id: str
    controller_id: int
    broker_ids: tuple[int, ...]


@contextmanager
def admin_client(bootstrap: str, timeout_s: float = 10.0) -> Iterator[Any]:
    """A ``KafkaAdminClient`` that is always closed; raises if the broker is not reachable in time."""
    timeout_ms = max(1000, int(timeout_s * 1000))
    client = KafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="jeugdhub-localkafka",
        request_timeout_ms=timeout_ms,
        bootstrap_timeout_ms=timeout_ms,
    )
    try:
        yield client
    finally:
        client.close()


@contextmanager
def quiet_kafka_logging() -> Iterator[None]:
    """Silence kafka-python's connection warnings while we poll a broker that is still starting."""
    logger = logging.getLogger("kafka")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


def fetch_cluster_info(bootstrap: str, timeout_s: float = 5.0) -> ClusterInfo:
    """One metadata round trip (DescribeCluster); raises on any failure."""
    with admin_client(bootstrap, timeout_s) as admin:
        raw = cast(Mapping[str, Any], admin.describe_cluster())
    brokers = cast(list[Mapping[str, Any]], raw.get("brokers") or [])
    controller = raw.get("controller_id")
    return ClusterInfo(
        cluster_id=str(raw.get("cluster_id")),
        controller_id=int(controller) if controller is not None else -1,
        broker_ids=tuple(int(b["broker_id"]) for b in brokers if not b.get("is_fenced", False)),
    )
