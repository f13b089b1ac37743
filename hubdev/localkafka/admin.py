"""Small kafka-python admin helpers: readiness probing and idempotent topic creation.

The broker runs with ``auto.create.topics.enable=false`` (docs/kafka.md), so whoever produces
to or consumes from a topic creates it first; these helpers make that one call.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from kafka import KafkaAdminClient

TOPIC_ALREADY_EXISTS = 36


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


def ensure_topics(
    bootstrap: str,
    topics: Iterable[str],
    *,
    partitions: int = 1,
    config: Mapping[str, str] | None = None,
    timeout_s: float = 30.0,
    replication_factor: int | None = None,
) -> None:
    """Create *topics* if missing and wait until each has a leader; existing topics are left as is.

    ``replication_factor`` None takes the broker's ``default.replication.factor`` (1 on the single
    local broker, one per node on a local cluster).
    """
    names = list(dict.fromkeys(topics))
    if not names:
        return
    spec = {
        name: {
            "num_partitions": partitions,
            "replication_factor": replication_factor if replication_factor is not None else -1,
            "configs": dict(config or {}),
        }
        for name in names
    }
    with admin_client(bootstrap, timeout_s) as admin:
        response = cast(
            Mapping[str, Any],
            admin.create_topics(
                spec,
                timeout_ms=int(timeout_s * 1000),
                raise_errors=False,
                wait_for_metadata=True,
            ),
        )
    failures = [
        f"{t.get('name')}: {t.get('error_code')} {t.get('error_message') or ''}".strip()
        for t in cast(list[Mapping[str, Any]], response.get("topics") or [])
        if t.get("error_code") not in (0, TOPIC_ALREADY_EXISTS)
    ]
    if failures:
        raise RuntimeError("could not create topics: " + "; ".join(failures))
